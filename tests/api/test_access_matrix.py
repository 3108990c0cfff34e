"""Who may call what, on whose objects: every `/api/v1` and `/fhir/R4` route, every role, three scopes.

Two cities are built through the API: Jining (370800) and Tai'an (370900). Each route is called
as each role on an object of each scope:

- `own`: Jining, the calling physician's and pharmacy's own objects (D370811001, P370811001);
- `peer`: Jining too (the bureau 370800's region), but another physician's and another
  pharmacy's (D370881001 of Qufu, P370881001);
- `foreign`: Tai'an, another city: another bureau's region, physician and pharmacy.

So "a bureau of another city" is the bureau 370800 on a `foreign` object, and "another
physician" / "another pharmacy" are the `peer` and `foreign` columns of those roles. The
`institution` role is the procurement (集采) account of the hospital H370811001; procurement
records belong to one institution, the scope's hospital (H370811001, H370881001, H370902001), or
for the pharmacy role the scope's pharmacy, which takes part in procurement as an institution.
The pharmacy role's token is bound to the pharmacy's pharmacist (it reviews, 审方, too).

`MATRIX` declares, per route, one character per scope (or one for routes without a scoped
object): `o` 2xx, `3` 403, `4` 404, `i` 422 (an import refusing the scope's row). For list routes
the characters say whether that scope's object is listed (`o`) or absent (`-`) from a 200, or `3`
for a 403. Every route the app serves must be in it, and every role the app knows: a new route
fails `test_every_route_is_in_the_matrix` until its row is added.
"""

import csv
import io
import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Callable

import pytest

from dualchannel import clock, db
from dualchannel.auth import Role
from tests.api.conftest import build_world, pharmacist_of
from tests.api.test_fhir import FHIR, valid
from tests.api.test_prescription_flow import PROBLEM
from tests.api.test_settlement import EMPLOYEE, RESIDENT
from tests.conftest import As, fresh_database, make_app, token_maker
from tests.support import PLACES, resident_id, trace_codes

ROLES = ("admin", "bureau", "physician", "pharmacy", "institution")
SCOPES = ("own", "peer", "foreign")
_serial = itertools.count(1)

# What each scope is made of.
CITY = {"own": "370800", "peer": "370800", "foreign": "370900"}
COUNTY = {"own": "370811", "peer": "370881", "foreign": "370902"}
INSTITUTION = {"own": "H370811001", "peer": "H370881001", "foreign": "H370902001"}
PHYSICIAN = {"own": "D370811001", "peer": "D370881001", "foreign": "D370902001"}
PHARMACY = {"own": "P370811001", "peer": "P370881001", "foreign": "P370902001"}
# A region a report is asked for: the bureau's whole city, a county of it, the other city.
REGION = {"own": "370800", "peer": "370881", "foreign": "370900"}
# A declared county different from where a pharmacy stands raises a `county_mismatch` flag in
# the county it really is in: the flag of that scope.
MISDECLARED = {"own": "370883", "peer": "370883", "foreign": "370911"}


def ok(response):
    assert response.status_code in (200, 201), (response.status_code, response.get_json())
    return response.get_json()


class Objects:
    """Objects of each scope, made through the API on first use.

    `static(...)` is made once and only read. `fresh(...)` is for a route that changes its
    object: the same one is handed out again until a call on it succeeds (a refusal must leave
    it as it was, or the caller allowed next fails), then a new one is made.
    """

    def __init__(self, world):
        self.w = world
        self.as_role = world.as_role
        self.admin = world.admin
        self.physicians = {s: world.as_role("physician", PHYSICIAN[s]) for s in SCOPES}
        # Each bound to its pharmacist: they review (审方) too.
        self.pharmacies = {s: world.as_role("pharmacy", PHARMACY[s], pharmacist=pharmacist_of(PHARMACY[s]))
                           for s in SCOPES}
        self._static: dict = {}
        self._spare: dict = {}  # fresh objects no call has changed yet
        self._handed: list = []  # keys of the fresh objects the current call uses
        self.role = "admin"  # the role calling now; see `holder`
        self._build_cities()

    def _build_cities(self):
        admin = self.admin
        ok(admin.post("/api/v1/institutions", {"code": "H370881001", "name": "曲阜市人民医院", "adcode": "370881"}))
        ok(admin.post("/api/v1/institutions", {"code": "H370902001", "name": "泰安市中心医院", "adcode": "370902"}))
        for scope in ("peer", "foreign"):
            ok(admin.post("/api/v1/physicians", {"code": PHYSICIAN[scope], "name": "医生",
                                                 "institution_code": INSTITUTION[scope], "responsible": True}))
        for scope in SCOPES:  # enough stock for every dispensing below
            ok(self.pharmacies[scope].put(f"/api/v1/pharmacies/{PHARMACY[scope]}/stock",
                                          {"SAC": 100_000, "OSI": 1000, "ADA": 1000}))
        self.patients = {"own": (self.w.patient, self.w.patient_id_number)}
        for scope, area in (("peer", "370881"), ("foreign", "370902")):
            number = resident_id(area, "19720505")
            patient = ok(admin.post("/api/v1/patients", {"id_number": number, "name": "患者",
                                                         "insurance": "resident", "region": CITY[scope]}))
            self.patients[scope] = (patient, number)
            # In care at the scope's hospital only: its physician found them by number and name.
            ok(self.physicians[scope].post("/api/v1/patients/search", {"id_number": number, "name": "患者"}))

    def static(self, kind, scope):
        key = (kind, scope)
        if key not in self._static:
            self._static[key] = getattr(self, f"_{kind}")(scope)
        return self._static[key]

    def fresh(self, kind, scope, *args):
        key = (kind, scope, args)
        if key not in self._spare:
            self._spare[key] = getattr(self, f"_{kind}")(scope, *args)
        self._handed.append(key)
        return self._spare[key]

    def called(self, succeeded):
        """After each call: the fresh objects it succeeded on are used up."""
        for key in self._handed if succeeded else ():
            self._spare.pop(key, None)
        self._handed.clear()

    # -- makers ------------------------------------------------------------------------------
    def _pharmacy(self, scope, status="active", declared=None):
        code = f"PX{COUNTY[scope]}{next(_serial):04d}"
        lat, lon = PLACES[COUNTY[scope]]
        ok(self.admin.post("/api/v1/pharmacies", {
            "code": code, "name": f"{code}药房", "address": "测试地址", "adcode": declared or COUNTY[scope],
            "lat": lat, "lon": lon, "crs": "wgs84", "cold_chain": False, "traceability": True}))
        if status == "active":
            ok(self.admin.post(f"/api/v1/pharmacies/{code}/admit", {}))
        return code

    def _flag(self, scope):
        code = self._pharmacy(scope, status="applied", declared=MISDECLARED[scope])
        flags = ok(self.admin.get(f"/api/v1/flags?type=county_mismatch&subject=pharmacy:{code}"))["items"]
        assert len(flags) == 1 and flags[0]["status"] == "open"
        return flags[0]["id"]

    def _exemption(self, scope):
        """An audit exemption of the scope's report region (its city, a county of it, the other city)."""
        return ok(self.admin.post("/api/v1/audit/exemptions", {
            "region": REGION[scope], "kind": "drug", "value": "SAC", "reason": "肿瘤方案",
            "valid_until": str(clock.today() + timedelta(days=30))}))["id"]

    def _prescription(self, scope, status="routed", pickup=None):
        """A prescription of the scope's physician for the scope's patient, moved to `status`
        (verified with `pickup`, an agent, when given)."""
        patient, number = self.patients[scope]
        physician, pharmacy = self.physicians[scope], self.pharmacies[scope]
        rx = ok(physician.post("/api/v1/prescriptions", {
            "patient_id": patient["id"], "diagnosis": "慢性心力衰竭", "valid_days": 3,
            "items": [{"drug_code": "SAC", "quantity": 1, "days_supply": 14, "dosage": "每日两次"}]}))
        steps = ["routed", "verified", "reviewed", "dispensed"]
        for step in steps[: steps.index(status) + 1] if status in steps else []:
            if step == "routed":
                ok(physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": PHARMACY[scope]}))
            elif step == "verified":
                ok(pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify", {"id_number": number, "pickup": pickup}))
            elif step == "reviewed":
                ok(pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/review", {"outcome": "approved"}))
            else:
                rx = ok(pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                      {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(1)}]}))
        return rx["id"] if status != "dispensed" else rx

    def _patient(self, scope):
        """A patient of the scope's city whom no institution has in care yet: (id, number, name)."""
        number = resident_id(COUNTY[scope], "19660606")
        patient = ok(self.admin.post("/api/v1/patients", {"id_number": number, "name": "待查患者",
                                                          "insurance": "resident", "region": CITY[scope]}))
        return patient["id"], number, "待查患者"

    def _refusal(self, scope):
        """A prescription the scope's pharmacy closed without dispensing (a reason code given)."""
        rx_id = self._prescription(scope, "routed")
        ok(self.pharmacies[scope].post(f"/api/v1/prescriptions/{rx_id}/not-dispensed",
                                       {"reason_code": "patient_declined"}))
        return rx_id

    def _signing_key(self, scope):
        """A new signing key of the scope's physician, issued by the admin. Returns its id."""
        return ok(self.admin.post("/api/v1/signing-keys", {"physician_code": PHYSICIAN[scope]}))["id"]

    def _trace(self, scope):
        return self._prescription(scope, "dispensed")["items"][0]["trace_codes"][0]

    def _pickup(self, scope):
        """A prescription an agent (代取人) was verified for: its agent's ID number is revealable."""
        agent = {"name": "代取人", "id_number": resident_id(COUNTY[scope], "19880808"), "relation": "子女"}
        return self._prescription(scope, "verified", pickup=agent)

    def _policy(self, scope):
        """The id of the resident policy of the scope's city; both cities' policies are added on
        first use (the tests' database has none)."""
        if "policies" not in self._static:
            self._static["policies"] = {
                (city, body["insurance"]): ok(self.admin.post("/api/v1/settlement-policies",
                                                              {**body, "region": city}))["id"]
                for city in ("370800", "370900") for body in (EMPLOYEE, RESIDENT)}
        return self._static["policies"][(CITY[scope], "resident")]

    def _settleable(self, scope):
        """A dispensed prescription that can be settled (its city's policies exist)."""
        self.static("policy", scope)
        return self._prescription(scope, "dispensed")["id"]

    def _settlement(self, scope, mode="direct"):
        """A settlement of the scope's pharmacy: `direct` (settled) or `manual` (a pending claim)."""
        rx_id = self._settleable(scope)
        body = ok(self.pharmacies[scope].post(f"/api/v1/prescriptions/{rx_id}/settlement", {"mode": mode}))
        assert body["status"] == ("settled" if mode == "direct" else "pending"), body
        return body["id"]

    # -- procurement (集采) -----------------------------------------------------------------------
    def holder(self, scope):
        """The institution whose procurement records are the scope's, for the role calling now:
        the scope's pharmacy for the pharmacy role, else the scope's hospital."""
        return (PHARMACY if self.role == "pharmacy" else INSTITUTION)[scope]

    def _batch(self, region=None):
        """A drug batch (national without `region`) in its first agreement year: from the 1st of
        this month, two years. Returns its code."""
        start = clock.today().replace(day=1)
        code = new_code("MB")
        ok(self.admin.post(f"{PROCUREMENT}/batches", {
            "code": code, "name": f"第{code}批集采", "kind": "drug", "cycle_start": start.isoformat(),
            "cycle_end": (start.replace(year=start.year + 2) - timedelta(days=1)).isoformat(), "region": region}))
        return code

    def year_start(self):
        return clock.today().replace(day=1).isoformat()

    def _product(self, _key=None, manufacturer="矩阵药业"):
        """A new selected product of the national batch. Returns its code."""
        batch = self.static("batch", None)
        code = new_code("MP")
        ok(self.admin.post(f"{PROCUREMENT}/batches/{batch}/products", {
            "code": code, "generic_name": "矩阵测试片", "manufacturer": manufacturer, "name": f"矩阵测试片 {code}",
            "specification": "5mg", "unit": "片", "price": "0.5000", "status": "selected"}))
        return code

    def _procured(self, holder):
        """`holder`'s own product (its manufacturer named after it), agreed volume and a purchase
        today: what its execution, report, prepayment and ledger lines are made of."""
        product = self._product(manufacturer=f"{holder}药业")
        line = ok(self.admin.put(f"{PROCUREMENT}/agreed-volumes", {
            "institution_code": holder, "product_code": product, "year_start": self.year_start(),
            "quantity": 1000}))
        purchase = ok(self.admin.post(f"{PROCUREMENT}/purchases", {
            "institution_code": holder, "product_code": product, "quantity": 10, "amount": "5.00",
            "date": clock.today().isoformat()}))
        return SimpleNamespace(product=product, company=f"{holder}药业", line=line["id"], purchase=purchase["id"])

    def _declaration(self, holder):
        """A submitted demand declaration of `holder` (for a product of its own, so it is the only
        one awaiting the bureau)."""
        return ok(self.admin.post(f"{PROCUREMENT}/declarations", {
            "institution_code": holder, "product_code": self._product(), "year_start": self.year_start(),
            "quantity": 100}))["id"]

    def _supply_problem(self, holder):
        return ok(self.admin.post(f"{PROCUREMENT}/supply-problems", {
            "institution_code": holder, "product_code": self.static("product", None),
            "description": "配送企业断货"}))["id"]

    def _re_examination(self, scope):
        """The scope's physician records an eligibility for the scope's patient that ends in 10
        days: a re-examination (复查评估) due at that physician's institution. Returns the patient id."""
        patient_id = self.patients[scope][0]["id"]
        until = (clock.today() + timedelta(days=10)).isoformat()
        ok(self.physicians[scope].post(f"/api/v1/patients/{patient_id}/eligibility",
                                       {"drug_code": self.static("eligibility_drug", None), "valid_until": until}))
        return patient_id

    def _eligibility_drug(self, _key):
        """A drug needing eligibility that only re-examinations use (recording one for OSI, as
        a route's row does, would renew them)."""
        ok(self.admin.post("/api/v1/drugs", {"code": "REX", "generic_name": "复查测试药", "name": "复查测试药",
                                             "negotiated": True, "dual_channel": True, "requires_eligibility": True,
                                             "unit": "盒"}))
        return "REX"


@dataclass
class Case:
    """One route's row: how to fill its URL, body and query for a scope, and what each role gets.

    `args`, `body`, `query` take (objects, scope); `upload` gives (content, filename) of a file
    sent as multipart `file` instead of a JSON body. A list route gives `listed`: the value of
    `key` that the scope's object has in the list's `items` (or in the rows of a CSV answer).
    """

    expect: dict[str, str]
    args: Callable | None = None
    body: Callable | None = None
    query: Callable | None = None
    upload: Callable | None = None
    listed: Callable | None = None
    key: str = "id"
    scoped: bool = field(init=False)

    def __post_init__(self):
        lengths = {len(v) for v in self.expect.values()}
        assert set(self.expect) == set(ROLES) and len(lengths) == 1 and lengths <= {1, 3}, self.expect
        self.scoped = lengths == {3}


def rx(status):
    return lambda o, s: {"prescription_id": o.fresh("prescription", s, status)}


def rx_static(o, s):
    return {"prescription_id": o.static("prescription", s)}


def pharmacy_static(o, s):
    return {"code": PHARMACY[s]}


def pharmacy_fresh(status):
    return lambda o, s: {"code": o.fresh("pharmacy", s, status)}


def patient_static(o, s):
    return {"patient_id": o.patients[s][0]["id"]}


def new_code(prefix):
    return f"{prefix}{next(_serial):06d}"


PROCUREMENT = "/api/v1/procurement"


def procured(o, s):
    return o.static("procured", o.holder(s))


def fresh_of_holder(kind, name):
    return lambda o, s: {name: o.fresh(kind, o.holder(s))}


def static_of_holder(kind, name):
    return lambda o, s: {name: o.static(kind, o.holder(s))}


def upload_row(header, row):
    """A CSV file of one row, as the imports take it."""
    return lambda o, s: ((header + "\n" + row(o, s) + "\n").encode(), "matrix.csv")


PRODUCT_HEADER = "code,generic_name,manufacturer,name,specification,unit,price,status"
PURCHASE_HEADER = "institution_code,product_code,quantity,amount,date"


def settlement_fresh(mode):
    return lambda o, s: {"settlement_id": o.fresh("settlement", s, mode)}


def settlement_static(o, s):
    return {"settlement_id": o.static("settlement", s)}


def settled_at(o, s):
    """The scope's pharmacy, once it has a settlement in force (as a list's key)."""
    o.static("settlement", s)
    return PHARMACY[s]


def region_query(o, s):
    return {"region": REGION[s]}


def reason(o, s):
    return {"reason": "稽核调查"}


def policy_body(o, s):
    """A new resident policy version of the scope's city, from a date no other call used."""
    start = date(2000, 1, 1) + timedelta(days=next(_serial))
    return {**RESIDENT, "region": CITY[s], "effective_from": start.isoformat()}


# Each role's answer on (own, peer, foreign); see the module docstring.
MATRIX: dict[tuple[str, str], Case] = {
    # -- registries ---------------------------------------------------------------------------
    ("POST", "/api/v1/institutions"): Case(
        body=lambda o, s: {"code": new_code("HN"), "name": "医院", "adcode": COUNTY[s]},
        expect=dict(admin="ooo", bureau="oo3", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/institutions/<code>"): Case(
        args=lambda o, s: {"code": INSTITUTION[s]},
        expect=dict(admin="ooo", bureau="oo4", physician="444", pharmacy="444", institution="444")),
    ("POST", "/api/v1/physicians"): Case(
        body=lambda o, s: {"code": new_code("DN"), "name": "医生", "institution_code": INSTITUTION[s],
                           "responsible": True},
        expect=dict(admin="ooo", bureau="oo3", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/drugs"): Case(
        body=lambda o, s: {"code": new_code("XD"), "generic_name": "通用名", "name": "药品", "unit": "盒"},
        expect=dict(admin="o", bureau="o", physician="3", pharmacy="3", institution="3")),
    ("GET", "/api/v1/drugs"): Case(expect=dict(admin="o", bureau="o", physician="o", pharmacy="o", institution="o")),
    ("GET", "/api/v1/drugs/<code>"): Case(
        args=lambda o, s: {"code": "SAC"},
        expect=dict(admin="o", bureau="o", physician="o", pharmacy="o", institution="o")),
    ("PATCH", "/api/v1/drugs/<code>"): Case(
        args=lambda o, s: {"code": "SAC"}, body=lambda o, s: {"units_per_pack": None},
        expect=dict(admin="o", bureau="3", physician="3", pharmacy="3", institution="3")),
    # -- pharmacies: the network is public to physicians (they route to it) ----------------------
    ("POST", "/api/v1/pharmacies"): Case(
        body=lambda o, s: {"code": new_code("PN"), "name": "药房", "address": "地址", "adcode": COUNTY[s],
                           "lat": PLACES[COUNTY[s]][0], "lon": PLACES[COUNTY[s]][1], "crs": "wgs84"},
        expect=dict(admin="ooo", bureau="oo3", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/pharmacies"): Case(
        query=lambda o, s: {"region": "370000"}, listed=lambda o, s: PHARMACY[s], key="code",
        expect=dict(admin="ooo", bureau="oo-", physician="ooo", pharmacy="o--", institution="---")),
    ("GET", "/api/v1/pharmacies/<code>"): Case(
        args=pharmacy_static,
        expect=dict(admin="ooo", bureau="oo4", physician="ooo", pharmacy="o44", institution="444")),
    ("PATCH", "/api/v1/pharmacies/<code>"): Case(
        args=pharmacy_static, body=lambda o, s: {"traceability": True, "reason": "现场核查"},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/pharmacies/<code>/history"): Case(
        args=pharmacy_static,
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="333")),
    ("POST", "/api/v1/pharmacies/<code>/admit"): Case(
        args=pharmacy_fresh("applied"), body=lambda o, s: {},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/pharmacies/<code>/suspend"): Case(
        args=pharmacy_fresh("active"), body=lambda o, s: {"reason": "检查", "force": True},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/pharmacies/<code>/exit"): Case(
        args=pharmacy_fresh("active"), body=lambda o, s: {"reason": "退出", "force": True},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/pharmacies/<code>/pharmacists"): Case(
        args=pharmacy_static, body=lambda o, s: {"licence_number": new_code("YS"), "name": "药师"},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="344", institution="444")),
    ("GET", "/api/v1/pharmacies/<code>/pharmacists"): Case(
        args=pharmacy_static,
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="333")),
    ("PUT", "/api/v1/pharmacies/<code>/stock"): Case(
        args=pharmacy_static, body=lambda o, s: {"SAC": 100_000},
        expect=dict(admin="ooo", bureau="333", physician="333", pharmacy="o44", institution="333")),
    ("GET", "/api/v1/pharmacies/<code>/stock"): Case(
        args=pharmacy_static,
        expect=dict(admin="ooo", bureau="oo4", physician="ooo", pharmacy="o44", institution="444")),
    # -- patients: physicians find (by number AND name) and register any insured patient, and
    # read only those in care at their institution: the `own` patient is in the care of the own
    # physician's hospital, the `peer` and `foreign` ones of their own physicians' hospitals.
    # A search finds a fresh patient (it would put the static ones in care).
    ("POST", "/api/v1/patients"): Case(
        body=lambda o, s: {"id_number": resident_id(COUNTY[s], "19800808"), "name": "新患者",
                           "insurance": "employee", "region": CITY[s]},
        expect=dict(admin="ooo", bureau="oo3", physician="ooo", pharmacy="333", institution="333")),
    ("POST", "/api/v1/patients/search"): Case(
        body=lambda o, s: dict(zip(("id_number", "name"), o.fresh("patient", s)[1:])),
        expect=dict(admin="ooo", bureau="oo4", physician="ooo", pharmacy="333", institution="333")),
    ("GET", "/api/v1/patients/<int:patient_id>"): Case(
        args=patient_static,
        expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="444", institution="444")),
    ("GET", "/api/v1/patients/<int:patient_id>/timeline"): Case(
        args=patient_static,
        expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="333", institution="333")),
    ("POST", "/api/v1/patients/<int:patient_id>/eligibility"): Case(
        args=patient_static, body=lambda o, s: {"drug_code": "OSI"},
        expect=dict(admin="333", bureau="333", physician="o44", pharmacy="333", institution="333")),
    ("GET", "/api/v1/patients/<int:patient_id>/eligibility"): Case(
        args=patient_static,
        expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="444", institution="444")),
    # -- prescriptions: for a patient in care at the physician's hospital (else the id is unknown)
    ("POST", "/api/v1/prescriptions"): Case(
        body=lambda o, s: {"patient_id": o.patients[s][0]["id"], "diagnosis": "诊断", "valid_days": 1,
                           "items": [{"drug_code": "SAC", "quantity": 1, "days_supply": 7, "dosage": "每日一次"}]},
        expect=dict(admin="333", bureau="333", physician="oii", pharmacy="333", institution="333")),
    ("GET", "/api/v1/prescriptions"): Case(
        query=lambda o, s: {"status": "routed", "limit": 500}, listed=lambda o, s: o.static("prescription", s),
        expect=dict(admin="ooo", bureau="oo-", physician="o--", pharmacy="o--", institution="---")),
    ("GET", "/api/v1/prescriptions/<int:prescription_id>"): Case(
        args=rx_static, expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="o44", institution="444")),
    ("GET", "/api/v1/prescriptions/<int:prescription_id>/qr.svg"): Case(
        args=rx_static, expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="o44", institution="444")),
    ("GET", "/api/v1/prescriptions/<int:prescription_id>/tracker"): Case(
        args=rx_static, expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="o44", institution="444")),
    ("GET", "/api/v1/prescriptions/<int:prescription_id>/pharmacy-options"): Case(
        args=rx_static, expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="o44", institution="444")),
    ("POST", "/api/v1/prescriptions/<int:prescription_id>/route"): Case(
        args=rx("issued"), body=lambda o, s: {"pharmacy_code": PHARMACY[s]},
        expect=dict(admin="333", bureau="334", physician="o44", pharmacy="444", institution="444")),
    ("POST", "/api/v1/prescriptions/<int:prescription_id>/return"): Case(
        args=rx("routed"), body=lambda o, s: {"reason_code": "out_of_stock"},
        expect=dict(admin="333", bureau="334", physician="344", pharmacy="o44", institution="444")),
    ("POST", "/api/v1/prescriptions/<int:prescription_id>/verify"): Case(
        args=rx("routed"), body=lambda o, s: {"id_number": o.patients[s][1]},
        expect=dict(admin="333", bureau="334", physician="344", pharmacy="o44", institution="444")),
    ("POST", "/api/v1/prescriptions/<int:prescription_id>/review"): Case(
        args=rx("verified"), body=lambda o, s: {"outcome": "approved"},
        expect=dict(admin="333", bureau="334", physician="344", pharmacy="o44", institution="444")),
    ("GET", "/api/v1/prescriptions/<int:prescription_id>/signature"): Case(
        args=rx_static, expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="o44", institution="444")),
    ("POST", "/api/v1/prescriptions/<int:prescription_id>/dispense"): Case(
        args=rx("reviewed"), body=lambda o, s: {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(1)}]},
        expect=dict(admin="333", bureau="334", physician="344", pharmacy="o44", institution="444")),
    ("POST", "/api/v1/prescriptions/<int:prescription_id>/cancel"): Case(
        args=rx("issued"), body=lambda o, s: {"reason_code": "patient_request"},
        expect=dict(admin="333", bureau="334", physician="o44", pharmacy="444", institution="444")),
    ("POST", "/api/v1/prescriptions/<int:prescription_id>/not-dispensed"): Case(
        args=rx("routed"), body=lambda o, s: {"reason_code": "patient_declined", "note": "患者不再需要"},
        expect=dict(admin="333", bureau="334", physician="344", pharmacy="o44", institution="444")),
    ("GET", "/api/v1/reason-codes"): Case(expect=dict(admin="o", bureau="o", physician="o", pharmacy="o", institution="o")),
    ("GET", "/api/v1/pharmacy/inbox"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: o.static("prescription", s),
        expect=dict(admin="333", bureau="333", physician="333", pharmacy="o--", institution="333")),
    ("GET", "/api/v1/pharmacy/prescriptions"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: o.static("prescription", s),
        expect=dict(admin="333", bureau="333", physician="333", pharmacy="o--", institution="333")),
    ("GET", "/api/v1/trace/<code>"): Case(
        args=lambda o, s: {"code": o.static("trace", s)},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="333")),
    # -- signing keys: the CA's acts are an admin's or a bureau's of the holder's region --------------
    ("GET", "/api/v1/signing-keys"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: o.static("signing_key", s),
        expect=dict(admin="ooo", bureau="oo-", physician="o--", pharmacy="---", institution="---")),
    ("POST", "/api/v1/signing-keys"): Case(
        body=lambda o, s: {"physician_code": PHYSICIAN[s]},
        expect=dict(admin="ooo", bureau="oo3", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/signing-keys/<int:key_id>/revoke"): Case(
        args=lambda o, s: {"key_id": o.fresh("signing_key", s)}, body=lambda o, s: {"reason": "密钥泄露"},
        expect=dict(admin="ooo", bureau="oo4", physician="344", pharmacy="444", institution="444")),
    # -- audit flags -----------------------------------------------------------------------------
    ("GET", "/api/v1/flags"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: o.static("flag", s),
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/flags/<int:flag_id>"): Case(
        args=lambda o, s: {"flag_id": o.static("flag", s)},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/flags/<int:flag_id>/review"): Case(
        args=lambda o, s: {"flag_id": o.fresh("flag", s)}, body=lambda o, s: {"decision": "dismissed", "note": "核实"},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/flags.csv"): Case(
        listed=lambda o, s: o.static("flag", s),
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/audit/scan"): Case(
        body=lambda o, s: {}, expect=dict(admin="o", bureau="3", physician="3", pharmacy="3", institution="3")),
    ("GET", "/api/v1/audit/spending"): Case(
        query=lambda o, s: {"by": "pharmacy"}, listed=settled_at,
        key="key", expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/audit/reasons"): Case(
        listed=lambda o, s: (o.static("refusal", s), f"pharmacy:{PHARMACY[s]}")[1], key="actor",
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/audit/spending.csv"): Case(
        query=lambda o, s: {"by": "pharmacy"}, listed=settled_at,
        key="key", expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="333", institution="333")),
    # -- audit tuning: a bureau sets its region's thresholds and exemptions (issue 23) ----------------
    ("GET", "/api/v1/audit/thresholds"): Case(
        query=region_query, expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("PUT", "/api/v1/audit/thresholds"): Case(
        query=region_query, body=lambda o, s: {"thresholds": {"shopping_min_pharmacies": 4}, "reason": "调整"},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/audit/thresholds/what-if"): Case(
        query=region_query, body=lambda o, s: {"thresholds": {"shopping_min_pharmacies": 2}},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/audit/exemptions"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: o.static("exemption", s),
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/audit/exemptions"): Case(
        body=lambda o, s: {"region": REGION[s], "kind": "generic", "value": "沙库巴曲缬沙坦钠片", "reason": "试点",
                           "valid_until": str(clock.today() + timedelta(days=30))},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("DELETE", "/api/v1/audit/exemptions/<int:exemption_id>"): Case(
        args=lambda o, s: {"exemption_id": o.fresh("exemption", s)},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    # -- coverage: a bureau reports on its region or a part of it ------------------------------------
    ("GET", "/api/v1/coverage"): Case(
        query=region_query, expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/coverage.geojson"): Case(
        query=region_query, expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/coverage/map"): Case(
        query=region_query, expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/coverage.csv"): Case(
        query=region_query, expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/coverage/what-if"): Case(
        query=lambda o, s: {"region": REGION[s], "exclude": PHARMACY[s]},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/coverage/suggestions"): Case(
        query=region_query, expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    # -- privacy: audited reveals and the access log (admin, bureau of the patient's region) -----------
    ("POST", "/api/v1/patients/<int:patient_id>/reveal"): Case(
        args=patient_static, body=reason,
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/prescriptions/<int:prescription_id>/pickup/reveal"): Case(
        args=lambda o, s: {"prescription_id": o.static("pickup", s)}, body=reason,
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/access-log"): Case(
        query=lambda o, s: {"patient_id": o.patients[s][0]["id"], "action": "create"},
        listed=lambda o, s: o.patients[s][0]["id"], key="patient_id",
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/prescriptions/<int:prescription_id>/access-log"): Case(
        args=rx_static, expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    # -- traceability and re-examination --------------------------------------------------------------
    ("POST", "/api/v1/trace/<code>/undo"): Case(
        args=lambda o, s: {"code": o.fresh("trace", s)}, body=lambda o, s: {"reason": "原包装未拆封退回"},
        expect=dict(admin="333", bureau="333", physician="333", pharmacy="o44", institution="333")),
    ("GET", "/api/v1/physician/re-examinations"): Case(
        listed=lambda o, s: o.static("re_examination", s), key="patient_id",
        expect=dict(admin="333", bureau="333", physician="o--", pharmacy="333", institution="333")),
    # -- settlement -------------------------------------------------------------------------------
    ("POST", "/api/v1/settlement-policies"): Case(
        body=policy_body, expect=dict(admin="ooo", bureau="oo3", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/settlement-policies"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: o.static("policy", s),
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/settlement-policies/<int:policy_id>"): Case(
        args=lambda o, s: {"policy_id": o.static("policy", s)},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/prescriptions/<int:prescription_id>/settlement"): Case(
        args=lambda o, s: {"prescription_id": o.fresh("settleable", s)}, body=lambda o, s: {},
        expect=dict(admin="333", bureau="334", physician="344", pharmacy="o44", institution="444")),
    ("GET", "/api/v1/settlements"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: o.static("settlement", s),
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="o--", institution="333")),
    ("GET", "/api/v1/settlements/<int:settlement_id>"): Case(
        args=settlement_static,
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="333")),
    ("POST", "/api/v1/settlements/<int:settlement_id>/reverse"): Case(
        args=settlement_fresh("direct"), body=lambda o, s: {"reason": "冲正"},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="333")),
    ("POST", "/api/v1/settlements/<int:settlement_id>/approve"): Case(
        args=settlement_fresh("manual"), body=lambda o, s: {"note": "材料齐全"},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/settlements/<int:settlement_id>/reject"): Case(
        args=settlement_fresh("manual"), body=lambda o, s: {"reason": "材料不全"},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/settlements/reconciliation"): Case(
        listed=settled_at, key="pharmacy_code",
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="o--", institution="333")),
    ("GET", "/api/v1/settlements/reconciliation.csv"): Case(
        listed=settled_at, key="pharmacy_code",
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="o--", institution="333")),
    ("GET", "/api/v1/patients/<int:patient_id>/accumulators"): Case(
        args=patient_static,
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    # -- procurement (集采): published results are public; the rest a bureau's region, an institution's own
    ("GET", "/api/v1/drugs/<code>/payment-standard"): Case(
        args=lambda o, s: {"code": "SAC"}, query=lambda o, s: {"on": clock.today().isoformat()},
        expect=dict(admin="o", bureau="o", physician="o", pharmacy="o", institution="o")),
    ("POST", "/api/v1/procurement/batches"): Case(
        body=lambda o, s: {"code": new_code("MB"), "name": "集采批次", "kind": "drug", "cycle_start": "2026-01-01",
                           "cycle_end": "2027-12-31", "region": REGION[s]},
        expect=dict(admin="ooo", bureau="oo3", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/procurement/batches"): Case(
        listed=lambda o, s: o.static("batch", None), key="code",
        expect=dict(admin="o", bureau="o", physician="o", pharmacy="o", institution="o")),
    ("GET", "/api/v1/procurement/batches/<code>"): Case(
        args=lambda o, s: {"code": o.static("batch", None)},
        expect=dict(admin="o", bureau="o", physician="o", pharmacy="o", institution="o")),
    ("POST", "/api/v1/procurement/batches/<code>/products"): Case(
        args=lambda o, s: {"code": o.static("batch", REGION[s])},
        body=lambda o, s: {"code": new_code("MP"), "generic_name": "通用名", "manufacturer": "药业", "name": "产品",
                           "unit": "片", "price": "0.5000", "status": "selected"},
        expect=dict(admin="ooo", bureau="oo3", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/procurement/batches/<code>/products/import"): Case(
        args=lambda o, s: {"code": o.static("batch", REGION[s])},
        upload=upload_row(PRODUCT_HEADER, lambda o, s: f"{new_code('MP')},通用名,药业,产品,5mg,片,0.5000,selected"),
        expect=dict(admin="ooo", bureau="oo3", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/procurement/batches/<code>/products"): Case(
        args=lambda o, s: {"code": o.static("batch", None)}, listed=lambda o, s: o.static("product", None),
        key="code", expect=dict(admin="o", bureau="o", physician="o", pharmacy="o", institution="o")),
    ("GET", "/api/v1/procurement/products/<code>"): Case(
        args=lambda o, s: {"code": o.static("product", None)},
        expect=dict(admin="o", bureau="o", physician="o", pharmacy="o", institution="o")),
    ("PUT", "/api/v1/procurement/agreed-volumes"): Case(
        body=lambda o, s: {"institution_code": o.holder(s), "product_code": o.static("product", None),
                           "year_start": o.year_start(), "quantity": 500},
        expect=dict(admin="ooo", bureau="oo3", physician="333", pharmacy="333", institution="333")),
    ("GET", "/api/v1/procurement/agreed-volumes"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: procured(o, s).line,
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="o--", institution="o--")),
    ("POST", "/api/v1/procurement/agreed-volumes/compute"): Case(
        body=lambda o, s: {"product_code": o.static("product", None), "year_start": o.year_start(),
                           "region": REGION[s]},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="333", institution="333")),
    ("POST", "/api/v1/procurement/purchases"): Case(
        body=lambda o, s: {"institution_code": o.holder(s), "product_code": o.static("product", None),
                           "quantity": 1, "amount": "0.50", "date": clock.today().isoformat()},
        expect=dict(admin="ooo", bureau="oo3", physician="333", pharmacy="o33", institution="o33")),
    ("GET", "/api/v1/procurement/purchases"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: procured(o, s).purchase,
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="o--", institution="o--")),
    # A file's rows are checked one by one: another's row is named in a 422, like any bad row.
    ("POST", "/api/v1/procurement/purchases/import"): Case(
        upload=upload_row(PURCHASE_HEADER, lambda o, s: f"{o.holder(s)},{o.static('product', None)},1,0.50,"
                                                        f"{clock.today().isoformat()}"),
        expect=dict(admin="ooo", bureau="ooi", physician="333", pharmacy="oii", institution="oii")),
    ("POST", "/api/v1/procurement/declarations"): Case(
        body=lambda o, s: {"institution_code": o.holder(s), "product_code": o.fresh("product", None),
                           "year_start": o.year_start(), "quantity": 100},
        expect=dict(admin="ooo", bureau="333", physician="333", pharmacy="o33", institution="o33")),
    ("GET", "/api/v1/procurement/declarations"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: o.static("declaration", o.holder(s)),
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="o--", institution="o--")),
    ("GET", "/api/v1/procurement/declarations/<int:declaration_id>"): Case(
        args=static_of_holder("declaration", "declaration_id"),
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="o44")),
    ("POST", "/api/v1/procurement/declarations/<int:declaration_id>/accept"): Case(
        args=fresh_of_holder("declaration", "declaration_id"), body=lambda o, s: {},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="344", institution="344")),
    ("POST", "/api/v1/procurement/declarations/<int:declaration_id>/return"): Case(
        args=fresh_of_holder("declaration", "declaration_id"), body=lambda o, s: {"note": "请按上年用量重新填报"},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="344", institution="344")),
    ("GET", "/api/v1/procurement/execution"): Case(
        query=region_query, listed=lambda o, s: (procured(o, s), o.holder(s))[1], key="institution_code",
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o--", institution="o--")),
    ("GET", "/api/v1/procurement/reports"): Case(
        query=region_query, listed=lambda o, s: procured(o, s).product, key="product_code",
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o--", institution="o--")),
    ("GET", "/api/v1/procurement/reports.csv"): Case(
        query=region_query, listed=lambda o, s: procured(o, s).product, key="product_code",
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o--", institution="o--")),
    ("GET", "/api/v1/procurement/prepayments"): Case(
        query=region_query, listed=lambda o, s: (procured(o, s), o.holder(s))[1], key="institution_code",
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o--", institution="o--")),
    ("GET", "/api/v1/procurement/ledger"): Case(
        query=region_query, listed=lambda o, s: procured(o, s).company, key="company",
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o--", institution="o--")),
    ("POST", "/api/v1/procurement/supply-problems"): Case(
        body=lambda o, s: {"institution_code": o.holder(s), "product_code": o.static("product", None),
                           "description": "配送企业断货"},
        expect=dict(admin="ooo", bureau="333", physician="333", pharmacy="o33", institution="o33")),
    ("GET", "/api/v1/procurement/supply-problems"): Case(
        query=lambda o, s: {"limit": 500}, listed=lambda o, s: o.static("supply_problem", o.holder(s)),
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="o--", institution="o--")),
    ("GET", "/api/v1/procurement/supply-problems/<int:problem_id>"): Case(
        args=static_of_holder("supply_problem", "problem_id"),
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="o44")),
    ("POST", "/api/v1/procurement/supply-problems/<int:problem_id>/reply"): Case(
        args=fresh_of_holder("supply_problem", "problem_id"),
        body=lambda o, s: {"reply": "三日内补货", "promised_fix": clock.today().isoformat()},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="o44")),
    ("POST", "/api/v1/procurement/supply-problems/<int:problem_id>/resolve"): Case(
        args=fresh_of_holder("supply_problem", "problem_id"), body=lambda o, s: {"resolution": "已恢复供应"},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="o44")),
    ("POST", "/api/v1/procurement/supply-problems/<int:problem_id>/confirm"): Case(
        args=fresh_of_holder("supply_problem", "problem_id"), body=lambda o, s: {},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="344", institution="344")),
    ("GET", "/api/v1/procurement/calendar"): Case(
        query=lambda o, s: {"year": clock.today().year},
        expect=dict(admin="o", bureau="o", physician="3", pharmacy="o", institution="o")),
    ("PUT", "/api/v1/procurement/calendar/<day>"): Case(
        args=lambda o, s: {"day": "2030-01-02"}, body=lambda o, s: {"kind": "holiday", "name": "测试"},
        expect=dict(admin="o", bureau="3", physician="3", pharmacy="3", institution="3")),
    # -- the calling account ----------------------------------------------------------------------
    ("GET", "/api/v1/me"): Case(expect=dict(admin="o", bureau="o", physician="o", pharmacy="o", institution="o")),
    # -- published to everyone, token or not (PUBLIC) ----------------------------------------------
    ("GET", "/api/v1/public/pharmacies"): Case(
        query=lambda o, s: {"region": "370000", "limit": 500}, listed=lambda o, s: PHARMACY[s], key="code",
        expect=dict(admin="ooo", bureau="ooo", physician="ooo", pharmacy="ooo", institution="ooo")),
    # -- FHIR R4: the same scopes as the /api/v1 route each reads through (FHIR_SAME_AS) -------------
    ("GET", "/fhir/R4/MedicationRequest/<fhir_id>"): Case(
        args=lambda o, s: {"fhir_id": f"{o.static('prescription', s)}-1"},
        expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="o44", institution="444")),
    ("GET", "/fhir/R4/MedicationDispense/<fhir_id>"): Case(
        args=lambda o, s: {"fhir_id": f"{o.static('settleable', s)}-1"},
        expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="o44", institution="444")),
    ("GET", "/fhir/R4/Task/<fhir_id>"): Case(
        args=lambda o, s: {"fhir_id": str(o.static("prescription", s))},
        expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="o44", institution="444")),
    ("GET", "/fhir/R4/Claim/<fhir_id>"): Case(
        args=lambda o, s: {"fhir_id": str(o.static("settlement", s))},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="333")),
    ("GET", "/fhir/R4/ClaimResponse/<fhir_id>"): Case(
        args=lambda o, s: {"fhir_id": str(o.static("settlement", s))},
        expect=dict(admin="ooo", bureau="oo4", physician="333", pharmacy="o44", institution="333")),
    ("GET", "/fhir/R4/Patient/<fhir_id>"): Case(
        args=lambda o, s: {"fhir_id": str(o.patients[s][0]["id"])},
        expect=dict(admin="ooo", bureau="oo4", physician="o44", pharmacy="444", institution="444")),
    ("GET", "/fhir/R4/Practitioner/<fhir_id>"): Case(
        args=lambda o, s: {"fhir_id": PHYSICIAN[s]},
        expect=dict(admin="ooo", bureau="oo4", physician="444", pharmacy="444", institution="444")),
    ("GET", "/fhir/R4/Organization/<fhir_id>"): Case(
        args=lambda o, s: {"fhir_id": f"pharmacy-{PHARMACY[s]}"},
        expect=dict(admin="ooo", bureau="oo4", physician="ooo", pharmacy="o44", institution="444")),
    ("GET", "/fhir/R4/Medication/<fhir_id>"): Case(
        args=lambda o, s: {"fhir_id": "SAC"},
        expect=dict(admin="o", bureau="o", physician="o", pharmacy="o", institution="o")),
    ("GET", "/fhir/R4/MedicationRequest"): Case(
        query=lambda o, s: {"status": "active", "_count": 500}, listed=lambda o, s: f"{o.static('prescription', s)}-1",
        expect=dict(admin="ooo", bureau="oo-", physician="o--", pharmacy="o--", institution="---")),
    ("GET", "/fhir/R4/MedicationDispense"): Case(
        query=lambda o, s: {"_count": 500}, listed=lambda o, s: f"{o.static('settleable', s)}-1",
        expect=dict(admin="ooo", bureau="oo-", physician="o--", pharmacy="o--", institution="---")),
    ("GET", "/fhir/R4/Task"): Case(
        query=lambda o, s: {"status": "requested", "_count": 500}, listed=lambda o, s: str(o.static("prescription", s)),
        expect=dict(admin="ooo", bureau="oo-", physician="o--", pharmacy="o--", institution="---")),
    ("GET", "/fhir/R4/Claim"): Case(
        query=lambda o, s: {"_count": 500}, listed=lambda o, s: str(o.static("settlement", s)),
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="o--", institution="333")),
    ("GET", "/fhir/R4/ClaimResponse"): Case(
        query=lambda o, s: {"_count": 500}, listed=lambda o, s: str(o.static("settlement", s)),
        expect=dict(admin="ooo", bureau="oo-", physician="333", pharmacy="o--", institution="333")),
    # -- published to everyone, token or not (PUBLIC) ----------------------------------------------
    ("GET", "/api/v1/public/pharmacies"): Case(
        query=lambda o, s: {"region": "370000", "limit": 500}, listed=lambda o, s: PHARMACY[s], key="code",
        expect=dict(admin="ooo", bureau="ooo", physician="ooo", pharmacy="ooo", institution="ooo")),
}

# Each FHIR route reads through the /api/v1 route's service: its row must say the same. Practitioner
# has no /api/v1 read of its own: it follows its institution's (`institutions.read_physician`);
# an institution's Organization is checked against /api/v1/institutions in tests/api/test_fhir.py.
FHIR_SAME_AS = {
    "/fhir/R4/MedicationRequest/<fhir_id>": "/api/v1/prescriptions/<int:prescription_id>",
    "/fhir/R4/MedicationDispense/<fhir_id>": "/api/v1/prescriptions/<int:prescription_id>",
    "/fhir/R4/Task/<fhir_id>": "/api/v1/prescriptions/<int:prescription_id>",
    "/fhir/R4/Claim/<fhir_id>": "/api/v1/settlements/<int:settlement_id>",
    "/fhir/R4/ClaimResponse/<fhir_id>": "/api/v1/settlements/<int:settlement_id>",
    "/fhir/R4/Patient/<fhir_id>": "/api/v1/patients/<int:patient_id>",
    "/fhir/R4/Practitioner/<fhir_id>": "/api/v1/institutions/<code>",
    "/fhir/R4/Organization/<fhir_id>": "/api/v1/pharmacies/<code>",
    "/fhir/R4/Medication/<fhir_id>": "/api/v1/drugs/<code>",
    "/fhir/R4/MedicationRequest": "/api/v1/prescriptions",
    "/fhir/R4/MedicationDispense": "/api/v1/prescriptions",
    "/fhir/R4/Task": "/api/v1/prescriptions",
    "/fhir/R4/Claim": "/api/v1/settlements",
    "/fhir/R4/ClaimResponse": "/api/v1/settlements",
}
# Served without a token, or not a resource: the CapabilityStatement and the catch-all.
UNSCOPED = {"fhir.metadata", "fhir.elsewhere"}

# Routes that need no token at all (seed 003: the pharmacy list is 向社会公布); every other one does.
PUBLIC = {("GET", "/api/v1/public/pharmacies")}


def api_routes(app):
    """(method, rule, endpoint) of every `/api/v1` and `/fhir/R4` route that needs a token."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/v1/", "/fhir/R4/")) and rule.endpoint not in UNSCOPED:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule.rule, rule.endpoint


def build_url(app, endpoint, values, method, query=None):
    adapter = app.url_map.bind("localhost")
    return adapter.build(endpoint, {**values, **(query or {})}, method=method)


def dummy_values(app, rule_text):
    rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_text)
    return {arg: 1 if f"<int:{arg}>" in rule_text else "X1" for arg in rule.arguments}


@pytest.fixture(scope="module")
def shared(database_template, tmp_path_factory):
    """One app, world and set of objects for the whole matrix: building them for each route
    took most of its time. Routes change only fresh objects, so the rows stay independent."""
    directory = tmp_path_factory.mktemp("matrix")
    app = make_app(fresh_database(database_template, directory), directory / "instance")
    client, token = app.test_client(), token_maker(app)
    world = build_world(lambda role, subject=None, pharmacist=None: As(client, token(role, subject, pharmacist)))
    actors = {"admin": world.admin, "bureau": world.bureau,
              "physician": world.as_role("physician", PHYSICIAN["own"]),
              "pharmacy": world.as_role("pharmacy", PHARMACY["own"], pharmacist=pharmacist_of(PHARMACY["own"])),
              "institution": world.as_role("institution", INSTITUTION["own"])}
    yield SimpleNamespace(app=app, client=client, admin=world.admin, objects=Objects(world), actors=actors)
    app.extensions[db._ENGINE].dispose()
    clock.reset()


def test_every_route_is_in_the_matrix(shared):
    served = {(m, r) for m, r, _ in api_routes(shared.app)}
    missing = sorted(served - set(MATRIX))
    stale = sorted(set(MATRIX) - served)
    assert not missing, (
        "These /api/v1 routes are not in the access matrix: add a row for each to MATRIX in "
        f"tests/api/test_access_matrix.py saying what every role gets on its own, a peer's and "
        f"another city's objects: {missing}")
    assert not stale, f"MATRIX has rows for routes the app no longer serves; remove them: {stale}"


def test_fhir_scopes_equal_api_scopes():
    fhir_rows = {rule for method, rule in MATRIX if rule.startswith("/fhir/")}
    assert fhir_rows == set(FHIR_SAME_AS), "say which /api/v1 route each FHIR route reads through"
    for fhir_rule, api_rule in FHIR_SAME_AS.items():
        assert MATRIX[("GET", fhir_rule)].expect == MATRIX[("GET", api_rule)].expect, (fhir_rule, api_rule)


def test_every_role_is_in_the_matrix():
    assert set(ROLES) == {role.value for role in Role}, "add a column for the new role to every MATRIX row"


def test_every_route_needs_a_valid_token(shared):
    app, client = shared.app, shared.client
    for method, rule, endpoint in api_routes(app):
        if (method, rule) in PUBLIC:
            continue
        url = build_url(app, endpoint, dummy_values(app, rule), method)
        for headers in ({}, {"Authorization": "Bearer dc_not-a-token"}, {"Authorization": "Basic YTpi"},
                        {"Authorization": f"Bearer {shared.admin.token}x"}):
            response = client.open(url, method=method, json={} if method != "GET" else None, headers=headers)
            assert response.status_code == 401, (method, url, headers, response.status_code)
            assert response.mimetype == error_type(url) and response.headers["WWW-Authenticate"] == "Bearer"


def test_public_routes_answer_without_a_token(shared):
    app, client = shared.app, shared.client
    served = {(m, r): e for m, r, e in api_routes(app)}
    assert PUBLIC <= set(served)
    for method, rule in sorted(PUBLIC):
        url = build_url(app, served[(method, rule)], dummy_values(app, rule), method)
        for headers in ({}, {"Authorization": "Bearer dc_not-a-token"}):
            response = client.open(url, method=method, headers=headers)
            assert response.status_code == 200, (method, url, headers, response.get_json())
            assert "WWW-Authenticate" not in response.headers


def call(app, client_as, method, rule, case, objects, scope):
    endpoint = next(e for m, r, e in api_routes(app) if m == method and r == rule)
    values = case.args(objects, scope) if case.args else {}
    query = case.query(objects, scope) if case.query else None
    url = build_url(app, endpoint, values, method, query)
    headers = {"Authorization": f"Bearer {client_as.token}"}
    if case.upload:
        content, filename = case.upload(objects, scope)
        return client_as.client.open(url, method=method, data={"file": (io.BytesIO(content), filename)},
                                     content_type="multipart/form-data", headers=headers), url
    body = case.body(objects, scope) if case.body else ({} if method != "GET" else None)
    return client_as.client.open(url, method=method, json=body, headers=headers), url


def error_type(url):
    """Errors are problem+json under /api/v1 and OperationOutcome resources under /fhir/R4."""
    return FHIR if url.startswith("/fhir/") else PROBLEM


def check(expected, response, listed_value, key, where):
    status, mimetype = response.status_code, error_type(where[-1])
    assert status < 500, (where, status, response.get_json())
    if response.mimetype == FHIR:
        valid(response.get_json())
    if expected == "3":
        assert status == 403 and response.mimetype == mimetype, (where, status, response.get_json())
    elif expected == "4":
        assert status == 404 and response.mimetype == mimetype, (where, status, response.get_json())
    elif expected == "i":
        assert status == 422 and response.mimetype == mimetype, (where, status, response.get_json())
    elif listed_value is not None:
        assert status == 200, (where, status, response.get_json())
        if response.mimetype == "text/csv":  # every cell is text
            items = csv.DictReader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff")))
            listed_value = str(listed_value)
        elif response.mimetype == FHIR:  # a searchset Bundle
            items = [entry["resource"] for entry in response.get_json().get("entry", [])]
        else:
            items = response.get_json()["items"]
        present = any(item.get(key) == listed_value for item in items)
        assert present == (expected == "o"), (where, "listed" if present else "not listed", listed_value)
    else:
        assert expected == "o" and 200 <= status < 300, (where, status, response.get_json())


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_access_matrix(shared, route):
    method, rule = route
    case, app, objects = MATRIX[route], shared.app, shared.objects
    if route not in {(m, r) for m, r, _ in api_routes(app)}:
        pytest.fail(f"{method} {rule} is in MATRIX but not served")
    for role in ROLES:
        scopes = SCOPES if case.scoped else ("own",)
        objects.role = role
        for scope, expected in zip(scopes, case.expect[role]):
            listed = case.listed(objects, scope) if case.listed else None
            response, url = call(app, shared.actors[role], method, rule, case, objects, scope)
            objects.called(response.status_code < 300)
            check(expected, response, listed, case.key, (role, scope, method, url))
