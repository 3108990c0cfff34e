"""A bureau tunes the audit scan: per-region thresholds (each change kept), exemptions that
suppress exactly their cases, and a what-if that counts what the next scan raises."""

from datetime import timedelta

import pytest

from dualchannel import clock
from tests.api.conftest import created
from tests.support import resident_id, review, trace_codes

OVERLAP, SHOPPING = "overlapping_supply", "pharmacy_shopping"


def problem(response, status, code=None):
    assert response.status_code == status, (response.status_code, response.get_json())
    if code:
        assert response.get_json()["code"] == code, response.get_json()
    return response.get_json()


@pytest.fixture
def clinic(world):
    """Patients in the physician's care and a helper dispensing SAC to one at a pharmacy."""

    def patient(name, region="370800", filed_region=None, born="19700101"):
        number = resident_id("370811", born)
        body = created(world.admin.post("/api/v1/patients", {"id_number": number, "name": name, "insurance": "employee",
                                                             "region": region, "filed_region": filed_region}))
        assert world.physician.post("/api/v1/patients/search", {"id_number": number, "name": name}).status_code == 200
        return {"id": body["id"], "id_number": number}

    def dispense(who, pharmacy, diagnosis="慢性心力衰竭", drug="SAC"):
        client = world.pharmacy if pharmacy == "P370811001" else world.other_pharmacy
        rx = created(world.physician.post("/api/v1/prescriptions", {
            "patient_id": who["id"], "diagnosis": diagnosis, "valid_days": 3,
            "items": [{"drug_code": drug, "quantity": 1, "days_supply": 28, "dosage": "每日两次"}]}))
        url = f"/api/v1/prescriptions/{rx['id']}"
        assert world.physician.post(f"{url}/route", {"pharmacy_code": pharmacy}).status_code == 200
        assert client.post(f"{url}/verify", {"id_number": who["id_number"]}).status_code == 200
        assert review(client, rx["id"]).status_code == 200
        done = client.post(f"{url}/dispense", {"items": [{"drug_code": drug, "trace_codes": trace_codes(1)}]})
        assert done.status_code == 200, done.get_json()
        return rx["id"]

    world.patient_of = patient
    world.dispense = dispense
    return world


def twice(clinic, who, **kw):
    """Two SAC dispensings a day apart at two pharmacies: overlapping supply, two pharmacies."""
    first = clinic.dispense(who, "P370811001", **kw)
    clock.travel(timedelta(days=1))
    second = clinic.dispense(who, "P370881001", **kw)
    return first, second


def scan(runner):
    result = runner.invoke(args=["audit", "scan"])
    assert result.exit_code == 0, result.output
    return result.output


def flags(clinic, kind=None):
    """(type, subject) of every flag, sorted."""
    items = clinic.admin.get("/api/v1/flags?limit=500" + (f"&type={kind}" if kind else "")).get_json()["items"]
    return sorted((f["type"], f["subject"]) for f in items if f["type"] in (OVERLAP, SHOPPING))


def test_defaults_are_the_configured_thresholds_and_each_change_is_kept(clinic, as_role):
    got = clinic.bureau.get("/api/v1/audit/thresholds").get_json()
    assert got["region"] == "370800" and got["own"] == {} and got["history"] == []
    assert got["thresholds"] == got["defaults"]
    assert got["defaults"]["shopping_min_pharmacies"] == 3 and got["defaults"]["overlap_remaining_share"] == 0.3
    assert set(got["sources"].values()) == {"default"}

    put = clinic.bureau.put("/api/v1/audit/thresholds", {"thresholds": {"shopping_min_pharmacies": 2},
                                                         "reason": "县域药店少，2家即异常"})
    assert put.status_code == 200, put.get_json()
    body = put.get_json()
    assert body["thresholds"]["shopping_min_pharmacies"] == 2 and body["own"] == {"shopping_min_pharmacies": 2}
    assert body["sources"]["shopping_min_pharmacies"] == "370800" and body["sources"]["outlier_factor"] == "default"
    [change] = body["history"]
    assert (change["changed_by"], change["reason"], change["before"], change["after"]) == (
        "bureau:370800", "县域药店少，2家即异常", {}, {"shopping_min_pharmacies": 2})
    assert change["changed_at"].endswith("+08:00")

    # A county inherits the city's value and may set its own on top.
    county = as_role("bureau", "370811")
    inherited = county.get("/api/v1/audit/thresholds").get_json()
    assert inherited["thresholds"]["shopping_min_pharmacies"] == 2
    assert inherited["sources"]["shopping_min_pharmacies"] == "370800"
    county.put("/api/v1/audit/thresholds", {"thresholds": {"outlier_factor": 2.5}, "reason": "试点"})
    again = clinic.bureau.get("/api/v1/audit/thresholds?region=370811").get_json()
    assert again["thresholds"]["outlier_factor"] == 2.5 and again["thresholds"]["shopping_min_pharmacies"] == 2

    # Same values again: no change recorded. Clearing them: recorded, back to the defaults.
    clinic.bureau.put("/api/v1/audit/thresholds", {"thresholds": {"shopping_min_pharmacies": 2}, "reason": "再次"})
    cleared = clinic.bureau.put("/api/v1/audit/thresholds", {"thresholds": {}, "reason": "恢复默认"}).get_json()
    assert cleared["thresholds"] == cleared["defaults"] and cleared["own"] == {}
    assert [c["reason"] for c in cleared["history"]] == ["恢复默认", "县域药店少，2家即异常"]


def test_who_may_read_and_set_thresholds(clinic, as_role):
    body = {"thresholds": {"shopping_min_pharmacies": 2}, "reason": "x"}
    problem(clinic.physician.get("/api/v1/audit/thresholds?region=370800"), 403)
    problem(clinic.pharmacy.put("/api/v1/audit/thresholds?region=370800", body), 403)
    problem(as_role("bureau", "370900").get("/api/v1/audit/thresholds?region=370800"), 404, "region_not_found")
    problem(as_role("bureau", "370811").put("/api/v1/audit/thresholds?region=370800", body), 404)
    problem(clinic.admin.get("/api/v1/audit/thresholds"), 422, "region_required")
    assert clinic.admin.get("/api/v1/audit/thresholds?region=370900").status_code == 200
    bad = problem(clinic.bureau.put("/api/v1/audit/thresholds", {
        "thresholds": {"shopping_min_pharmacies": 1, "overlap_remaining_share": 1.5, "outlier_factor": "x",
                       "no_such": 3}}), 422)
    assert set(bad["errors"]) == {"reason", "thresholds.shopping_min_pharmacies", "thresholds.overlap_remaining_share",
                                  "thresholds.outlier_factor", "thresholds.no_such"}


def test_thresholds_per_region_change_what_the_scan_raises(clinic, runner, as_role):
    jining = clinic.patient_of("济宁患者")
    taian = clinic.patient_of("泰安患者", region="370900", filed_region="370800", born="19710101")
    twice(clinic, jining)
    twice(clinic, taian)
    # Defaults: two pharmacies are not shopping; a refill after 1 of 28 days overlaps.
    assert clinic.admin.post("/api/v1/audit/scan", {}).get_json()["new_flags"][OVERLAP] == 2
    assert flags(clinic) == [(OVERLAP, f"patient:{jining['id']}"), (OVERLAP, f"patient:{taian['id']}")]

    # Jining flags two pharmacies; Tai'an flags only refills with 30 days' supply left.
    assert clinic.bureau.put("/api/v1/audit/thresholds", {"thresholds": {"shopping_min_pharmacies": 2},
                                                          "reason": "收紧"}).status_code == 200
    assert as_role("bureau", "370900").put("/api/v1/audit/thresholds", {"thresholds": {"overlap_min_days": 30},
                                                                        "reason": "放宽"}).status_code == 200
    third = clinic.patient_of("第三位泰安患者", region="370900", filed_region="370800", born="19720101")
    fourth = clinic.patient_of("第三位济宁患者", born="19730101")
    twice(clinic, third)
    twice(clinic, fourth)
    output = scan(runner)
    assert "3 new flag(s)." in output
    # Jining: two pharmacies are now shopping; Tai'an: 27 days left of 28 is under its 30.
    assert flags(clinic, SHOPPING) == sorted([(SHOPPING, f"patient:{jining['id']}"),
                                              (SHOPPING, f"patient:{fourth['id']}")])
    assert flags(clinic, OVERLAP) == sorted([(OVERLAP, f"patient:{who['id']}") for who in (jining, taian, fourth)])


def test_what_if_counts_what_the_next_scan_raises_and_clears(clinic, runner):
    jining = clinic.patient_of("济宁患者")
    taian = clinic.patient_of("泰安患者", region="370900", filed_region="370800", born="19710101")
    twice(clinic, jining)
    twice(clinic, taian)
    scan(runner)  # the two overlaps, under the defaults
    proposed = {"shopping_min_pharmacies": 2, "overlap_min_days": 28}
    before = clinic.bureau.get("/api/v1/audit/thresholds").get_json()
    answer = clinic.bureau.post("/api/v1/audit/thresholds/what-if", {"thresholds": proposed})
    assert answer.status_code == 200, answer.get_json()
    what_if = answer.get_json()
    assert what_if["days"] == 90 and what_if["region"] == "370800"
    assert what_if["would_raise"][SHOPPING] == 1 and what_if["raise_total"] == 1
    assert what_if["would_clear"] == {SHOPPING: 0, OVERLAP: 1, "volume_outlier": 0, "pharmacy_refusals": 0}
    assert clinic.bureau.get("/api/v1/audit/thresholds").get_json() == before  # nothing saved

    clinic.bureau.put("/api/v1/audit/thresholds", {"thresholds": proposed, "reason": "按试算结果"})
    result = clinic.admin.post("/api/v1/audit/scan", {}).get_json()
    assert sum(result["new_flags"].values()) == what_if["raise_total"]
    assert result["new_flags"][SHOPPING] == what_if["would_raise"][SHOPPING]
    # And once saved and scanned, the same values raise nothing more.
    again = clinic.bureau.post("/api/v1/audit/thresholds/what-if", {"thresholds": proposed}).get_json()
    assert again["raise_total"] == 0


def test_what_if_with_new_cases_equals_the_next_scan(clinic, runner):
    patients = [clinic.patient_of(f"患者{n}", born=f"1970010{n + 1}") for n in range(3)]
    for who in patients:
        twice(clinic, who)
    proposed = {"shopping_min_pharmacies": 2}
    what_if = clinic.bureau.post("/api/v1/audit/thresholds/what-if", {"thresholds": proposed}).get_json()
    assert what_if["would_raise"] == {SHOPPING: 3, OVERLAP: 3, "volume_outlier": 0, "pharmacy_refusals": 0}
    clinic.bureau.put("/api/v1/audit/thresholds", {"thresholds": proposed, "reason": "试算后保存"})
    assert clinic.admin.post("/api/v1/audit/scan", {}).get_json()["new_flags"] == {
        SHOPPING: 3, OVERLAP: 3, "volume_outlier": 0, "pharmacy_refusals": 0, "county_mismatch": 0}


def test_an_exemption_suppresses_exactly_its_cases(clinic, runner, as_role):
    oncology = clinic.patient_of("肿瘤患者")
    heart = clinic.patient_of("心衰患者", born="19710101")
    named = clinic.patient_of("豁免患者", born="19720101")
    twice(clinic, oncology, diagnosis="非小细胞肺癌（EGFR突变）")
    twice(clinic, heart)
    twice(clinic, named)
    today = clock.today()
    created(clinic.bureau.post("/api/v1/audit/exemptions", {
        "kind": "diagnosis", "value": "肺癌", "valid_until": str(today + timedelta(days=30)),
        "reason": "肿瘤方案需多处取药"}))
    patient_exemption = created(clinic.bureau.post("/api/v1/audit/exemptions", {
        "kind": "patient", "value": str(named["id"]), "rule": OVERLAP, "valid_until": str(today + timedelta(days=1)),
        "reason": "医生确认换药"}))
    # Another city's exemption of the heart patients' diagnosis changes nothing in Jining.
    created(as_role("bureau", "370900").post("/api/v1/audit/exemptions", {
        "kind": "diagnosis", "value": "心力衰竭", "valid_until": str(today + timedelta(days=30)), "reason": "泰安试点"}))

    result = clinic.admin.post("/api/v1/audit/scan", {}).get_json()
    assert result["new_flags"][OVERLAP] == 1 and result["exempted"][OVERLAP] == 2
    assert flags(clinic) == [(OVERLAP, f"patient:{heart['id']}")]
    output = scan(runner)
    assert "0 new flag(s)." in output and "2 exempted case(s)." in output

    # Revoked, the patient's case is flagged by the next scan; the diagnosis stays exempt.
    revoked = clinic.bureau.delete(f"/api/v1/audit/exemptions/{patient_exemption['id']}")
    assert revoked.status_code == 200 and revoked.get_json()["revoked_by"] == "bureau:370800"
    problem(clinic.bureau.delete(f"/api/v1/audit/exemptions/{patient_exemption['id']}"), 409, "exemption_revoked")
    result = clinic.admin.post("/api/v1/audit/scan", {}).get_json()
    assert result["new_flags"][OVERLAP] == 1 and result["exempted"][OVERLAP] == 1
    assert flags(clinic) == sorted([(OVERLAP, f"patient:{heart['id']}"), (OVERLAP, f"patient:{named['id']}")])

    # Past its last day, the diagnosis exemption no longer applies.
    clock.travel(timedelta(days=31))
    result = clinic.admin.post("/api/v1/audit/scan", {}).get_json()
    assert result["new_flags"][OVERLAP] == 1 and result["exempted"][OVERLAP] == 0


def test_exemptions_are_listed_checked_and_scoped(clinic, as_role):
    today = clock.today()
    who = clinic.patient_of("患者")
    body = {"kind": "drug", "value": "SAC", "valid_until": str(today + timedelta(days=10)), "reason": "试点"}
    exemption = created(clinic.bureau.post("/api/v1/audit/exemptions", body))
    assert (exemption["region"], exemption["created_by"], exemption["rule"]) == ("370800", "bureau:370800", None)
    problem(clinic.bureau.post("/api/v1/audit/exemptions", {**body, "value": "NOPE"}), 422, "exemption_drug_unknown")
    problem(clinic.bureau.post("/api/v1/audit/exemptions", {**body, "kind": "generic", "value": "无此药"}), 422,
            "exemption_generic_unknown")
    problem(clinic.bureau.post("/api/v1/audit/exemptions", {**body, "kind": "patient", "value": "999999"}), 422,
            "exemption_patient_unknown")
    problem(as_role("bureau", "370900").post("/api/v1/audit/exemptions", {**body, "kind": "patient",
                                                                          "value": str(who["id"])}), 422)
    problem(clinic.bureau.post("/api/v1/audit/exemptions", {**body, "valid_until": str(today - timedelta(days=1))}),
            422, "exemption_expired")
    problem(clinic.bureau.post("/api/v1/audit/exemptions", {**body, "rule": "county_mismatch", "kind": "x"}), 422)
    problem(clinic.bureau.post("/api/v1/audit/exemptions", {**body, "region": "370900"}), 404)
    problem(clinic.physician.get("/api/v1/audit/exemptions"), 403)
    # The county sees the city's exemption (it applies there) but may not revoke it.
    county = as_role("bureau", "370811")
    assert [e["id"] for e in county.get("/api/v1/audit/exemptions").get_json()["items"]] == [exemption["id"]]
    problem(county.delete(f"/api/v1/audit/exemptions/{exemption['id']}"), 404)
    assert as_role("bureau", "370900").get("/api/v1/audit/exemptions").get_json()["items"] == []
    clock.travel(timedelta(days=11))
    assert clinic.bureau.get("/api/v1/audit/exemptions").get_json()["items"] == []
    listed = clinic.bureau.get("/api/v1/audit/exemptions?include_inactive=true").get_json()["items"]
    assert [e["id"] for e in listed] == [exemption["id"]]
