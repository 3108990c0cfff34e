"""A realistic demo data set for Jining (济宁市, 370800), loaded through the services.

Drug prices are illustrative (示例), close to published negotiated prices but not official.
One county, 泗水县 (370831), is deliberately left without an active dual-channel pharmacy so
the coverage gap shows.
"""

from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session, select

from dualchannel import auth, clock
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.errors import Conflict
from dualchannel.institutions import services as institutions
from dualchannel.patients import services as patients
from dualchannel.pharmacies import services as pharmacies
from dualchannel.prescriptions import services as prescriptions
from dualchannel.procurement import alerts as procurement_alerts
from dualchannel.procurement import batches, declarations, purchases, supply, volumes
from dualchannel.procurement import scope as procurement_scope
from dualchannel.settlements import services as settlements
from dualchannel.signatures import services as signatures
from dualchannel.institutions.models import Institution

ADMIN = Actor(Role.admin, None, "demo")

# code, name, county, WGS-84 lat, lon (approximate, for distances to pharmacies)
INSTITUTIONS = [
    ("H370811001", "济宁市第一人民医院", "370811", 35.4068, 116.5851),
    ("H370811002", "济宁医学院附属医院", "370811", 35.4053, 116.5949),
    ("H370812001", "济宁市兖州区人民医院", "370812", 35.5540, 116.7760),
    ("H370881001", "曲阜市人民医院", "370881", 35.5880, 116.9860),
    ("H370883001", "邹城市人民医院", "370883", 35.4050, 116.9650),
]

PHYSICIANS = [
    ("D370811001", "王建国", "H370811001", True),
    ("D370811002", "李秀英", "H370811001", False),
    ("D370811003", "张伟", "H370811002", True),
    ("D370812001", "刘洋", "H370812001", True),
    ("D370881001", "孔令华", "H370881001", True),
    ("D370883001", "孟凡东", "H370883001", True),
]

# code, generic name, product, storage, unit, payment standard, requires eligibility, separate payment
DRUGS = [
    ("XL01EB04", "甲磺酸奥希替尼片", "泰瑞沙 80mg×30片", "normal", "盒", "4800.00", True, True),
    ("XL01XC13", "注射用曲妥珠单抗", "赫赛汀 440mg", "cold_chain", "瓶", "5500.00", True, True),
    ("XL01XC23", "信迪利单抗注射液", "达伯舒 100mg/10ml", "cold_chain", "瓶", "1080.00", True, True),
    ("XL01EX03", "甲磺酸阿帕替尼片", "艾坦 0.25g×10片", "normal", "盒", "1350.00", True, True),
    ("XL01EX10", "盐酸安罗替尼胶囊", "福可维 12mg×7粒", "normal", "盒", "2050.00", True, True),
    ("XL01EF01", "哌柏西利胶囊", "爱博新 125mg×21粒", "normal", "盒", "2900.00", True, True),
    ("XL01EL01", "伊布替尼胶囊", "亿珂 140mg×90粒", "normal", "盒", "15000.00", True, True),
    ("XL04AB04", "阿达木单抗注射液", "修美乐 40mg/0.8ml", "cold_chain", "支", "1150.00", True, False),
    ("XL04AC10", "司库奇尤单抗注射液", "可善挺 150mg/1ml", "cold_chain", "支", "1188.00", True, False),
    ("XL04AB01", "注射用重组人Ⅱ型肿瘤坏死因子受体-抗体融合蛋白", "益赛普 25mg", "cold_chain", "瓶", "388.00", True, False),
    ("XL04AA29", "枸橼酸托法替布片", "尚杰 5mg×28片", "normal", "盒", "1036.00", True, False),
    ("XC09DX04", "沙库巴曲缬沙坦钠片", "诺欣妥 100mg×14片", "normal", "盒", "91.00", False, False),
    ("XA10BK01", "达格列净片", "安达唐 10mg×30片", "normal", "盒", "130.00", False, False),
    ("XC10AX13", "依洛尤单抗注射液", "瑞百安 140mg/1ml", "cold_chain", "支", "283.00", False, False),
    ("XB03XA05", "罗沙司他胶囊", "爱瑞卓 50mg×3粒", "normal", "盒", "450.00", False, False),
    ("XJ05AP55", "索磷布韦维帕他韦片", "丙通沙 28片", "normal", "盒", "8000.00", True, True),
    ("XJ05AR18", "艾考恩丙替片", "捷扶康 30片", "normal", "盒", "1000.00", False, False),
    ("XL04AX05", "吡非尼酮片", "艾思瑞 200mg×36片", "normal", "盒", "600.00", True, False),
    ("XA16AB09", "注射用阿糖苷酶α", "美而赞 50mg", "cold_chain", "瓶", "5000.00", True, True),
    ("XN07XX06", "氘丁苯那嗪片", "安泰坦 6mg×28片", "normal", "盒", "1100.00", True, False),
]
ORDINARY_DRUG = ("XJ01CA04", "阿莫西林胶囊", "阿莫西林胶囊 0.25g×24粒", "normal", "盒", "12.00", False, False)
# The product identification code (药品标识码) each drug's traceability codes begin with: the
# first 7 of the 20 digits. Illustrative, in the national format (they begin with 8); a pack of
# one drug scanned for another is refused.
TRACE_PREFIXES = {
    "XL01EB04": "8123456", "XL01XC13": "8100203", "XL01XC23": "8100311", "XL01EX03": "8100402",
    "XL01EX10": "8100517", "XL01EF01": "8100605", "XL01EL01": "8100719", "XL04AB04": "8100822",
    "XL04AC10": "8100930", "XL04AB01": "8101018", "XL04AA29": "8101126", "XC09DX04": "8100001",
    "XA10BK01": "8101233", "XC10AX13": "8101341", "XB03XA05": "8101457", "XJ05AP55": "8101564",
    "XJ05AR18": "8101672", "XL04AX05": "8101780", "XA16AB09": "8101895", "XN07XX06": "8101903",
    "XJ01CA04": "8102011",
}


def trace_code(drug_code: str, serial: int) -> str:
    """A well-formed traceability code of a demo drug's pack (its product code, then a serial)."""
    return f"{TRACE_PREFIXES[drug_code]}{serial:013d}"

# code, name, address, declared county, WGS-84 lat, lon, cold chain, status
PHARMACIES = [
    ("P370811001", "济宁漱玉平民大药房(太白路店)", "任城区太白中路", "370811", 35.4148, 116.5873, True, "active"),
    ("P370811002", "济宁医药大药房(建设路店)", "任城区建设北路", "370811", 35.4230, 116.5760, False, "active"),
    ("P370812001", "兖州区国大药房(建设东路店)", "兖州区建设东路", "370812", 35.5530, 116.7830, True, "active"),
    ("P370826001", "微山县夏镇大药房", "微山县夏镇奎文路", "370826", 34.8070, 117.1290, False, "active"),
    ("P370827001", "鱼台县谷亭大药房", "鱼台县谷亭街道", "370827", 35.0120, 116.6500, False, "active"),
    ("P370828001", "金乡县金城大药房", "金乡县金城路", "370828", 35.0660, 116.3110, False, "active"),
    ("P370829001", "嘉祥县嘉祥大药房", "嘉祥县呈祥大街", "370829", 35.4080, 116.3420, False, "active"),
    ("P370830001", "汶上县中都大药房", "汶上县中都街道", "370830", 35.7330, 116.4970, False, "active"),
    ("P370832001", "梁山县水泊大药房", "梁山县水泊街道", "370832", 35.8020, 116.0960, False, "active"),
    ("P370881001", "曲阜市阙里大药房", "曲阜市鼓楼北街", "370881", 35.5966, 116.9914, True, "active"),
    ("P370883001", "邹城市孟府大药房", "邹城市岗山路", "370883", 35.4055, 116.9730, True, "active"),
    # 泗水县 has only an applicant: the county is uncovered until the bureau admits it.
    ("P370831001", "泗水县泉林大药房", "泗水县泉林路", "370831", 35.6640, 117.2510, False, "applied"),
    # Declared in 任城区 but standing in 兖州区: a county mismatch for the bureau to see.
    ("P370811003", "济宁仁和大药房(北湖店)", "任城区北湖路", "370811", 35.5600, 116.7900, False, "applied"),
]

# The demo pharmacy's licensed pharmacist (执业药师), who reviews prescriptions (审方).
PHARMACIST = ("P370811001", "YS3708110001", "周敏")

# name, birth area, birth date, insurance, assistance
PATIENTS = [
    ("张三", "370811", "19650304", "employee", "none"),
    ("李四", "370881", "19721118", "resident", "low_income"),
    ("王芳", "370883", "19800527", "employee", "none"),
    ("赵敏", "370826", "19581009", "resident", "extreme_poverty"),
    ("孔繁星", "370881", "19900214", "resident", "none"),
    ("孟庆华", "370811", "19770630", "employee", "none"),
]


def _resident_id(area: str, born: str, serial: int) -> str:
    from stdnum.cn import ric

    body = f"{area}{born}{serial:03d}"
    return body + ric.calc_check_digit(body + "0")


def patient_list() -> list[tuple[str, str]]:
    """The demo patients as (name, full resident ID number): fictitious people, printed by
    `dualchannel demo` so a pharmacist can verify them (实名核验) in the demo."""
    return [(name, _resident_id(area, born, serial))
            for serial, (name, area, born, _insurance, _assistance) in enumerate(PATIENTS, start=101)]


# The demo's 集采 batch: products of two generics (one with a non-selected and a backup product),
# the institutions' agreed volumes and what they bought so far, dated back from today so the
# schedule (序时进度) is about two thirds through the first agreement year.
BATCH_CODE = "GY-2026-09"
BATCH_DAYS_AGO = 240
# code, generic name, manufacturer, product name, specification, unit, price, status
PRODUCTS = [
    ("GY09-LST-01", "氯沙坦钾片", "浙江华海药业股份有限公司", "氯沙坦钾片 50mg×28片", "50mg", "片", "0.2100", "selected"),
    ("GY09-LST-02", "氯沙坦钾片", "杭州默沙东制药有限公司", "科素亚 50mg×7片", "50mg", "片", "3.1000", "non_selected"),
    ("GY09-ATV-01", "阿托伐他汀钙片", "齐鲁制药有限公司", "阿托伐他汀钙片 20mg×28片", "20mg", "片", "0.2800", "selected"),
    ("GY09-ATV-BK", "阿托伐他汀钙片", "北京嘉林药业股份有限公司", "阿乐 20mg×7片（备供）", "20mg", "片", "0.3100", "backup"),
    ("GY09-MET-01", "盐酸二甲双胍片", "石药集团欧意药业有限公司", "盐酸二甲双胍片 0.5g×60片", "0.5g", "片", "0.0300", "selected"),
]
# institution, product, agreed volume of the first year, purchased so far (share of it): behind,
# on schedule and ahead of the time-elapsed schedule.
AGREED = [
    ("H370811001", "GY09-LST-01", 120_000, "0.30"),   # behind schedule: an alert
    ("H370811001", "GY09-ATV-01", 80_000, "0.70"),    # on schedule
    ("H370811002", "GY09-LST-01", 60_000, "0.95"),    # ahead of schedule
    ("H370812001", "GY09-ATV-01", 40_000, "0.45"),    # behind, with a supply problem reported
    ("H370881001", "GY09-MET-01", 150_000, "0.80"),   # ahead
    ("H370883001", "GY09-MET-01", 90_000, "0.50"),    # behind
]


def _load_procurement(session: Session) -> None:
    """A realistic 集采 batch: agreed volumes, purchases behind and ahead of schedule, a
    non-selected purchase, a supply problem and a demand declaration awaiting the bureau."""
    today = clock.today()
    start = today - timedelta(days=BATCH_DAYS_AGO)
    end = start.replace(year=start.year + 2) - timedelta(days=1)
    batches.create_batch(session, ADMIN, code=BATCH_CODE, name="第九批国家组织药品集中采购（山东接续，示例）",
                             kind="drug", cycle_start=start, cycle_end=end, effective_date=start)
    prices = {}
    for code, generic, maker, name, spec, unit, price, status in PRODUCTS:
        batches.add_product(session, ADMIN, BATCH_CODE, code=code, generic_name=generic, manufacturer=maker,
                                name=name, specification=spec, unit=unit, price=Decimal(price), status=status)
        prices[code] = Decimal(price)
    orders = []
    for institution, product, agreed, share in AGREED:
        volumes.set_agreed_volume(session, ADMIN, institution_code=institution, product_code=product,
                                      year_start=start, quantity=agreed)
        bought = int(agreed * Decimal(share))
        # Bought in monthly orders, the last a week ago.
        months = max(1, (BATCH_DAYS_AGO - 7) // 30)
        ref, (found, batch) = procurement_scope.institution_of(session, institution), batches.get_product(session, product)
        for month in range(months):
            quantity = bought // months + (bought % months if month == months - 1 else 0)
            orders.append((ref, found, batch, {
                "quantity": quantity, "amount": (prices[product] * quantity).quantize(Decimal("0.01")),
                "date": start + timedelta(days=7 + 30 * month), "reference": f"{institution}-{product}-{month + 1:02d}"}))
    # Recorded as one import of the institutions' purchase files would record them.
    purchases.add_purchases(session, ADMIN, orders)
    procurement_alerts.sync_institutions(session, {ref.code for ref, _, _, _ in orders})
    # 济宁市第一人民医院 also bought the originator losartan (non-selected, dearer).
    purchases.record_purchase(session, ADMIN, institution_code="H370811001", product_code="GY09-LST-02",
                                quantity=30_000, amount=(prices["GY09-LST-02"] * 30_000).quantize(Decimal("0.01")),
                                date=today - timedelta(days=20), reference="H370811001-GY09-LST-02-01")
    # 兖州区人民医院 reports the selected atorvastatin undelivered for 10 days; not yet confirmed.
    supply.report(session, ADMIN, institution_code="H370812001", product_code="GY09-ATV-01",
                  description="中选阿托伐他汀钙片配送企业连续10天未按订单配送，库存仅够3天使用。",
                  reported_on=today - timedelta(days=2))
    # 邹城市人民医院 declares its demand of atorvastatin, with an explanation: awaits the bureau.
    declarations.declare_demand(session, ADMIN, institution_code="H370883001", product_code="GY09-ATV-01",
                               year_start=start, quantity=20_000,
                               explanation="心内科部分患者转诊至济宁市第一人民医院，预计用量下降。")
    session.commit()
    procurement_alerts.sync_alerts(session, region=None, as_of=today)


def load(session: Session) -> dict[str, tuple[str | None, str]]:
    """Load the demo set into an empty database; returns role -> (subject, token)."""
    if session.exec(select(Institution.code)).first() is not None:
        raise Conflict("The database is not empty; the demo loads only into an empty one.", code="database_not_empty")
    # The example policies of Jining (unless `init-db` loaded them already), so the demo settles.
    settlements.import_default_policies(session)
    for code, name, adcode, lat, lon in INSTITUTIONS:
        institutions.create_institution(session, ADMIN, code=code, name=name, adcode=adcode, lat=lat, lon=lon,
                                        crs="wgs84")
    for code, name, institution, responsible in PHYSICIANS:
        institutions.create_physician(session, ADMIN, code=code, name=name, institution_code=institution,
                                      responsible=responsible)
        if responsible:  # the co-signing service's key of each responsible physician
            signatures.issue_key(session, ADMIN, physician_code=code)
    for code, generic, name, storage, unit, standard, eligibility, separate in DRUGS + [ORDINARY_DRUG]:
        drugs.create_drug(session, ADMIN, code=code, generic_name=generic, name=name, storage=storage, unit=unit,
                          payment_standard=Decimal(standard), agreed_price=Decimal(standard),
                          negotiated=code != ORDINARY_DRUG[0], dual_channel=code != ORDINARY_DRUG[0],
                          requires_eligibility=eligibility, separate_payment=separate,
                          trace_prefixes=[TRACE_PREFIXES[code]])
    for code, name, address, adcode, lat, lon, cold, status in PHARMACIES:
        pharmacies.create_pharmacy(session, ADMIN, code=code, name=name, address=address, adcode=adcode,
                                   lat=lat, lon=lon, crs="wgs84", cold_chain=cold, traceability=True)
        if status == "active":
            pharmacies.change_status(session, ADMIN, code, "admit")
        pharmacies.set_stock(session, ADMIN, code, {
            d[0]: 30 if (d[3] == "normal" or cold) else 0 for d in DRUGS})
    pharmacy_code, licence, pharmacist_name = PHARMACIST
    pharmacies.add_pharmacist(session, ADMIN, pharmacy_code, licence_number=licence, name=pharmacist_name)
    signatures.issue_key(session, ADMIN, pharmacist=licence)
    created, numbers = [], []
    for serial, (name, area, born, insurance, assistance) in enumerate(PATIENTS, start=101):
        numbers.append(_resident_id(area, born, serial))
        created.append(patients.create_patient(
            session, ADMIN, id_number=numbers[-1], name=name, insurance=insurance,
            region="370800", assistance_category=assistance))
    physician = Actor(Role.physician, "D370811001", "demo")
    # The physician's patients came to the hospital: found by ID number and name, they are in
    # its care (孔繁星 is not yet: the physician finds her first).
    for index in (0, 1, 2, 3, 5):
        patients.search_patient(session, physician, numbers[index], created[index].name)
    # 赵敏's eligibility ends in 20 days: she is on the physician's re-examination (复查评估) list.
    for patient, drug, days in ((created[0], "XL01EB04", 180), (created[1], "XL04AB04", 180),
                                (created[2], "XL01EF01", 180), (created[3], "XL04AA29", 20)):
        patients.record_eligibility(session, physician, patient_id=patient.id, drug_code=drug,
                                    valid_until=clock.today() + timedelta(days=days))
    first = prescriptions.issue(session, physician, patient_id=created[0].id, diagnosis="非小细胞肺癌(EGFR T790M突变阳性)",
                                valid_days=3, items=[{"drug_code": "XL01EB04", "quantity": 1, "days_supply": 30,
                                                      "dosage": "每日一次，每次80mg"}])
    prescriptions.route(session, physician, first.prescription.id, pharmacy_code="P370811001")
    prescriptions.issue(session, physician, patient_id=created[5].id, diagnosis="慢性心力衰竭",
                        valid_days=3, items=[{"drug_code": "XC09DX04", "quantity": 2, "days_supply": 28,
                                              "dosage": "每日两次，每次1片"}])
    _load_procurement(session)
    tokens = {}
    for role, subject in (("admin", None), ("bureau", "370800"), ("physician", "D370811001"),
                          ("pharmacy", "P370811001"), ("institution", "H370811001")):
        tokens[role] = (subject, auth.create_token(session, role=role, subject=subject, name=f"demo {role}"))
    # The pharmacy's token bound to its pharmacist: acts as the pharmacy and reviews (审方).
    tokens["pharmacist"] = (pharmacy_code, pharmacies.pharmacist_token(session, pharmacy_code=pharmacy_code,
                                                                      licence_number=licence))
    return tokens
