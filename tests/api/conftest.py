"""A small Jining world built through the HTTP API, as an integrator would."""

from types import SimpleNamespace

import pytest

from tests.conftest import As
from tests.support import PLACES, resident_id


def created(response):
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pharmacist_of(pharmacy_code):
    """The licence number of the pharmacist `build_world` registers at a pharmacy."""
    return f"YS{pharmacy_code}"


@pytest.fixture
def world(as_role):
    return build_world(as_role)


def build_world(as_role):
    """The world: institution H370811001 with a responsible physician (D370811001) and an
    ordinary one, dual-channel drugs, pharmacies in Jining (two active, one applied) and Tai'an,
    each with a pharmacist (licence `pharmacist_of(code)`), a patient of Jining in the institution's care;
    `as_role(role, subject, pharmacist=None)` makes the clients. `world.pharmacy` and
    `world.other_pharmacy` are bound to their pharmacist (they review, 审方)."""
    admin = as_role("admin")
    bureau = as_role("bureau", "370800")
    created(admin.post("/api/v1/institutions", {"code": "H370811001", "name": "济宁市第一人民医院", "adcode": "370811"}))
    created(admin.post("/api/v1/physicians", {"code": "D370811001", "name": "王医生",
                                              "institution_code": "H370811001", "responsible": True}))
    created(admin.post("/api/v1/physicians", {"code": "D370811002", "name": "李医生",
                                              "institution_code": "H370811001", "responsible": False}))
    drugs = {
        "OSI": {"generic_name": "甲磺酸奥希替尼片", "name": "泰瑞沙 80mg×30片", "requires_eligibility": True,
                "storage": "normal", "unit": "盒", "payment_standard": "4800.00", "agreed_price": "4800.00"},
        "ADA": {"generic_name": "阿达木单抗注射液", "name": "修美乐 40mg/0.8ml", "storage": "cold_chain",
                "unit": "支", "payment_standard": "1150.00", "agreed_price": "1150.00"},
        "SAC": {"generic_name": "沙库巴曲缬沙坦钠片", "name": "诺欣妥 100mg×14片", "storage": "normal",
                "unit": "盒", "payment_standard": "91.00", "agreed_price": "91.00"},
    }
    for code, fields in drugs.items():
        created(admin.post("/api/v1/drugs", {"code": code, "negotiated": True, "dual_channel": True, **fields}))
    created(admin.post("/api/v1/drugs", {"code": "AMX", "generic_name": "阿莫西林胶囊", "name": "阿莫西林 0.25g",
                                         "unit": "盒", "dual_channel": False}))

    def pharmacy(code, county, *, cold_chain=False, active=True):
        lat, lon = PLACES[county]
        created(admin.post("/api/v1/pharmacies", {
            "code": code, "name": f"{code}大药房", "address": "测试地址", "adcode": county,
            "lat": lat, "lon": lon, "crs": "wgs84", "cold_chain": cold_chain, "traceability": True}))
        if active:
            assert admin.post(f"/api/v1/pharmacies/{code}/admit", {}).status_code == 200
        created(admin.post(f"/api/v1/pharmacies/{code}/pharmacists",
                           {"licence_number": pharmacist_of(code), "name": f"{code[-3:]}号药师"}))
        stock = as_role("pharmacy", code).put(f"/api/v1/pharmacies/{code}/stock",
                                                {"OSI": 20, "ADA": 20, "SAC": 50})
        assert stock.status_code == 200, stock.get_json()

    pharmacy("P370811001", "370811", cold_chain=True)
    pharmacy("P370881001", "370881")
    pharmacy("P370811009", "370811", active=False)
    pharmacy("P370902001", "370902", cold_chain=True)
    patient_id = resident_id("370811", "19650304")
    patient = created(admin.post("/api/v1/patients", {"id_number": patient_id, "name": "张三",
                                                      "insurance": "employee", "region": "370800"}))
    physician = as_role("physician", "D370811001")
    # The patient comes to the hospital: found by number and name, in its care from now on.
    found = physician.post("/api/v1/patients/search", {"id_number": patient_id, "name": "张三"})
    assert found.status_code == 200, found.get_json()
    return SimpleNamespace(
        admin=admin, bureau=bureau, physician=physician,
        ordinary_physician=as_role("physician", "D370811002"),
        pharmacy=as_role("pharmacy", "P370811001", pharmacist=pharmacist_of("P370811001")),
        other_pharmacy=as_role("pharmacy", "P370881001", pharmacist=pharmacist_of("P370881001")),
        patient=patient, patient_id_number=patient_id, as_role=as_role,
    )


@pytest.fixture
def issue(world):
    """issue(drug_code, quantity=2, **overrides) -> a new prescription's JSON."""

    def make(drug_code="SAC", quantity=2, physician=None, **overrides):
        body = {"patient_id": world.patient["id"], "diagnosis": "慢性心力衰竭", "valid_days": 3,
                "items": [{"drug_code": drug_code, "quantity": quantity, "days_supply": 28,
                           "dosage": "每日两次，每次1片"}], **overrides}
        return (physician or world.physician).post("/api/v1/prescriptions", body)

    return make


@pytest.fixture
def demo(runner, client):
    """The Jining demo data (`dualchannel demo`, through the CLI) and a client per role it printed
    (`pharmacist`: the demo pharmacy's token bound to its pharmacist)."""
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    roles = ("admin", "bureau", "physician", "pharmacy", "pharmacist")
    tokens = {line.split()[0]: line.split()[-1] for line in result.output.splitlines()
              if line.split() and line.split()[0] in roles}
    return SimpleNamespace(**{role: As(client, tokens[role]) for role in roles})
