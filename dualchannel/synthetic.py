"""A generated dispensing history with planted cases for every audit rule.

Used by the rule tests (thousands of rows) and by `bench/audit_scan.py` (a million). Normal
patients see one physician at one pharmacy and collect a 28-day supply every 30 days, so no
rule should fire on them; each planted case breaks exactly one rule.
"""

import hashlib
import io
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from dualchannel.drugs.models import Drug
from dualchannel.institutions.models import Institution, Physician
from dualchannel.patients.models import Patient
from dualchannel.pharmacies.models import Pharmacy
from dualchannel.prescriptions.models import Prescription, PrescriptionItem

COUNTIES = ("370811", "370883")
DRUGS = (("SYN-SAC", "沙库巴曲缬沙坦钠片"), ("SYN-DAP", "达格列净片"), ("SYN-ROX", "罗沙司他胶囊"),
         ("SYN-TOF", "枸橼酸托法替布片"))


@dataclass
class Planted:
    """The dedup keys each rule must produce, and nothing else."""

    keys: dict[str, set[str]] = field(default_factory=dict)
    dispensings: int = 0


class _Rows:
    def __init__(self):
        self.tables: dict[sa.Table, list[dict]] = {}

    def add(self, model, **values):
        self.tables.setdefault(model.__table__, []).append(values)


def generate(connection: sa.Connection, *, patients: int = 600, as_of: datetime, months: int = 6,
             pharmacies_per_county: int = 4, seed: int = 7) -> Planted:
    """Insert the data set through `connection` (the caller commits); returns the planted keys."""
    rng = random.Random(seed)
    rows = _Rows()
    planted = Planted()
    created = as_of - timedelta(days=400)
    rows.add(Institution, code="HSYN", name="合成医院", adcode="370811", created_at=created)
    physicians = [f"DSYN{i:02d}" for i in range(6)]
    for code in physicians:
        rows.add(Physician, code=code, name=code, institution_code="HSYN", responsible=True, created_at=created)
    for code, generic in DRUGS:
        rows.add(Drug, code=code, generic_name=generic, name=generic, negotiated=True, dual_channel=True,
                 separate_payment=False, requires_eligibility=False, storage="normal", unit="盒",
                 created_at=created)
    pharmacies = {county: [f"PSYN{county}{i}" for i in range(pharmacies_per_county)] for county in COUNTIES}
    for county, codes in pharmacies.items():
        for code in codes:
            rows.add(Pharmacy, code=code, name=code, address="-", adcode=county, lat=35.4, lon=116.6,
                     county_adcode=county, city_adcode="370800", status="active", cold_chain=False,
                     traceability=True, created_at=created, updated_at=created)
    mismatched = "PSYNMISMATCH"
    rows.add(Pharmacy, code=mismatched, name=mismatched, address="-", adcode="370811", lat=35.55, lon=116.79,
             county_adcode="370812", city_adcode="370800", status="active", cold_chain=False, traceability=True,
             created_at=created, updated_at=created)
    planted.keys["county_mismatch"] = {f"county_mismatch:{mismatched}:370811:370812"}

    next_patient = iter(range(1, 10**9))
    next_prescription = iter(range(1, 10**10))

    def patient(county):
        pid = next(next_patient)
        rows.add(Patient, id=pid, id_hash=hashlib.sha256(f"syn{seed}:{pid}".encode()).hexdigest(),
                 id_encrypted="-", id_number_masked=f"{county}********0000", name=f"患者{pid}",
                 insurance="employee", region="370800", assistance_category="none", created_at=created)
        return pid

    def dispense(pid, physician, pharmacy, drug, at, quantity=1, supply=28):
        rx = next(next_prescription)
        rows.add(Prescription, id=rx, patient_id=pid, physician_code=physician, institution_code="HSYN",
                 patient_region="370800", diagnosis="-", status="dispensed", issued_at=at - timedelta(hours=2),
                 valid_until=at + timedelta(days=1), pharmacy_code=pharmacy, verified_at=at - timedelta(hours=1),
                 dispensed_at=at, updated_at=at)
        rows.add(PrescriptionItem, id=rx, prescription_id=rx, drug_code=drug, quantity=quantity, days_supply=supply,
                 dosage="-")
        planted.dispensings += 1
        return rx

    for n in range(patients):
        county = COUNTIES[n % len(COUNTIES)]
        pid = patient(county)
        pharmacy = pharmacies[county][(n // len(COUNTIES)) % pharmacies_per_county]
        physician = physicians[n % len(physicians)]
        drug = DRUGS[(n // (len(COUNTIES) * pharmacies_per_county)) % len(DRUGS)][0]
        first = as_of - timedelta(days=30 * months - rng.randint(0, 29), hours=rng.randint(0, 8))
        for k in range(months):
            at = first + timedelta(days=30 * k)
            if at <= as_of:
                dispense(pid, physician, pharmacy, drug, at, quantity=rng.randint(1, 3))

    drug, generic = DRUGS[0]
    # pharmacy_shopping by pharmacies: three pharmacies, one physician, supplies not overlapping.
    pid = patient("370811")
    ids = [dispense(pid, physicians[0], pharmacies["370811"][i], drug, as_of - timedelta(days=70 - 32 * i))
           for i in range(3)]
    shopping = {f"pharmacy_shopping:{pid}:{generic}:{','.join(map(str, ids))}"}
    # pharmacy_shopping by physicians: three physicians, one pharmacy.
    pid = patient("370883")
    ids = [dispense(pid, physicians[i], pharmacies["370883"][0], drug, as_of - timedelta(days=70 - 32 * i))
           for i in range(3)]
    shopping.add(f"pharmacy_shopping:{pid}:{generic}:{','.join(map(str, ids))}")
    planted.keys["pharmacy_shopping"] = shopping
    # overlapping_supply: a second 28-day supply after 5 days.
    pid = patient("370811")
    first = dispense(pid, physicians[1], pharmacies["370811"][1], drug, as_of - timedelta(days=20))
    second = dispense(pid, physicians[1], pharmacies["370811"][1], drug, as_of - timedelta(days=15))
    planted.keys["overlapping_supply"] = {f"overlapping_supply:{first}:{second}:{generic}"}
    # volume_outlier: one pharmacy hands out ten times its peers' monthly quantity of a drug.
    pid = patient("370883")
    at = as_of - timedelta(days=3)
    outlier_pharmacy = pharmacies["370883"][2]
    outlier_drug = DRUGS[1][0]
    # Peers hand out about 2 units a month to each of their patients of that drug.
    per_pharmacy = patients / (len(COUNTIES) * pharmacies_per_county * len(DRUGS))
    dispense(pid, physicians[2], outlier_pharmacy, outlier_drug, at, quantity=int(20 * per_pharmacy) + 400,
             supply=28)
    month = (at + timedelta(hours=8)).strftime("%Y-%m")
    planted.keys["volume_outlier"] = {f"volume_outlier:{outlier_pharmacy}:{outlier_drug}:{month}"}

    _write(connection, rows)
    return planted


def _write(connection: sa.Connection, rows: _Rows) -> None:
    """Bulk insert in dependency order: COPY on PostgreSQL, multi-row INSERT elsewhere."""
    for table in (t for t in Institution.metadata.sorted_tables if t in rows.tables):
        values = rows.tables[table]
        if connection.dialect.name == "postgresql" and len(values) > 10_000:
            _copy(connection, table, values)
        else:
            for start in range(0, len(values), 5000):
                connection.execute(table.insert(), values[start:start + 5000])


def _copy(connection: sa.Connection, table: sa.Table, values: list[dict]) -> None:
    columns = list(values[0])
    processors = {c: table.c[c].type.bind_processor(connection.dialect) for c in columns}
    buffer = io.StringIO()
    for row in values:
        out = []
        for column in columns:
            value = row[column]
            processor = processors[column]
            value = processor(value) if processor and value is not None else value
            out.append("\\N" if value is None else str(value).replace("\t", " "))
        buffer.write("\t".join(out) + "\n")
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy:
            copy.write(buffer.getvalue())
