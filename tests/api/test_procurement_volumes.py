"""Agreed volumes from base-year usage, and institutions' demand declarations."""

from datetime import date

from tests.api.procurement_support import API, batch, buy, product, travel_to
from tests.api.test_prescription_flow import problem, ready_to_dispense
from tests.support import trace_codes

H1 = "H370811001"


def test_agreed_volumes_from_base_year_usage(world, as_role):
    travel_to(date(2026, 1, 10))
    batch(world.admin, "B2025", start="2025-01-01", end="2025-12-31")
    product(world.admin, "B2025", "AML-OLD")
    buy(world.admin, H1, "AML-OLD", 600, "2025-03-01")
    buy(world.admin, H1, "AML-OLD", 400, "2025-09-01")
    buy(world.admin, "P370811001", "AML-OLD", 10, "2025-09-01")
    buy(world.admin, "P370902001", "AML-OLD", 10, "2025-09-01")  # Tai'an: another city
    batch(world.admin)
    product(world.admin, "B2026", "AML-BOX", price="1.0500", conversion="7")  # a box of 7 tablets

    body = {"product_code": "AML-BOX", "year_start": "2026-01-01"}
    computed = world.bureau.post(f"{API}/agreed-volumes/compute", body)
    assert computed.status_code == 200, computed.get_json()
    result = computed.get_json()
    assert result["ratio"] == "0.7" and result["base_start"] == "2025-01-01" and result["base_end"] == "2026-01-01"
    volumes = {i["institution_code"]: (i["base_usage"], i["agreed"], i["agreed_source"]) for i in result["items"]}
    # 1,000 tablets = 142.86 boxes; x 0.7 = 100.0; 10 tablets = 1.43 boxes; x 0.7 = 1.0
    assert volumes == {H1: (143, 100, "base_usage"), "P370811001": (1, 1, "base_usage")}

    lower = world.bureau.post(f"{API}/agreed-volumes/compute", {**body, "ratio": "0.6"}).get_json()
    assert {i["institution_code"]: i["agreed"] for i in lower["items"]} == {H1: 86, "P370811001": 1}
    assert "ratio" in problem(world.bureau.post(f"{API}/agreed-volumes/compute", {**body, "ratio": "0.8"}), 422)["errors"]
    problem(world.bureau.post(f"{API}/agreed-volumes/compute", {**body, "region": "370900"}), 404)
    problem(world.bureau.post(f"{API}/agreed-volumes/compute", {**body, "base_start": "2026-01-01"}), 422)
    problem(as_role("institution", H1).post(f"{API}/agreed-volumes/compute", body), 403)
    county = as_role("bureau", "370811").post(f"{API}/agreed-volumes/compute", {**body, "ratio": "0.65"}).get_json()
    assert {i["institution_code"] for i in county["items"]} == {H1, "P370811001"}


def test_declarations_count_dispensings_as_use_and_go_back_and_forth(world, issue, as_role):
    travel_to(date(2026, 6, 15))
    rx = ready_to_dispense(world, issue, "SAC", 2)
    dispensed = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                    {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]})
    assert dispensed.status_code == 200, dispensed.get_json()
    batch(world.admin, "B2027", start="2027-01-01", end="2027-12-31")
    product(world.admin, "B2027", "SAC-SEL", generic="沙库巴曲缬沙坦钠片", price="60.0000")

    body = {"product_code": "SAC-SEL", "year_start": "2027-01-01", "quantity": 1}
    below = problem(world.pharmacy.post(f"{API}/declarations", body), 422)
    assert below["history"] == 2 and "explanation" in below["errors"]
    first = world.pharmacy.post(f"{API}/declarations", {**body, "explanation": "患者转至其他药店"})
    assert first.status_code == 201, first.get_json()
    declaration = first.get_json()
    assert declaration["history"] == 2 and declaration["status"] == "submitted"
    assert declaration["institution_code"] == "P370811001" and declaration["region"] == "370811"
    problem(world.pharmacy.post(f"{API}/declarations", {**body, "quantity": 5}), 409)

    problem(world.pharmacy.post(f"{API}/declarations/{declaration['id']}/return", {"note": "x"}), 403)
    problem(as_role("bureau", "370900").post(f"{API}/declarations/{declaration['id']}/return", {"note": "x"}), 404)
    returned = world.bureau.post(f"{API}/declarations/{declaration['id']}/return", {"note": "说明依据不充分，请重新填报"})
    assert returned.status_code == 200 and returned.get_json()["status"] == "returned"
    problem(world.bureau.post(f"{API}/declarations/{declaration['id']}/accept", {}), 409)

    zero = world.pharmacy.post(f"{API}/declarations", {**body, "quantity": 0, "explanation": "临床已停用"})
    assert zero.status_code == 201
    accepted = world.bureau.post(f"{API}/declarations/{zero.get_json()['id']}/accept", {})
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    assert accepted.get_json()["agreed"] == 0
    problem(world.pharmacy.post(f"{API}/declarations", {**body, "quantity": 3}), 409)  # already accepted
    assert [d["status"] for d in world.pharmacy.get(f"{API}/declarations").get_json()["items"]] == ["accepted", "returned"]
    assert world.bureau.get(f"{API}/declarations?status=returned").get_json()["items"][0]["bureau_note"]
    assert world.pharmacy.get(f"{API}/declarations/{declaration['id']}").get_json()["status"] == "returned"
    problem(world.other_pharmacy.get(f"{API}/declarations/{declaration['id']}"), 404)


def test_declaration_roles_and_ratios(world, as_role):
    travel_to(date(2026, 6, 15))
    batch(world.admin, "B2027", start="2027-01-01", end="2027-12-31")
    product(world.admin, "B2027", "AML-SEL")
    institution = as_role("institution", H1)
    body = {"product_code": "AML-SEL", "year_start": "2027-01-01", "quantity": 1000}
    problem(world.bureau.post(f"{API}/declarations", {**body, "institution_code": H1}), 403)
    problem(world.physician.post(f"{API}/declarations", body), 403)
    problem(institution.post(f"{API}/declarations", {**body, "institution_code": "H370811002"}), 403)
    problem(institution.post(f"{API}/declarations", {**body, "year_start": "2027-02-01"}), 422)
    problem(institution.post(f"{API}/declarations", {**body, "quantity": -1}), 422)
    declared = institution.post(f"{API}/declarations", body).get_json()
    assert declared["history"] == 0
    problem(world.bureau.post(f"{API}/declarations/{declared['id']}/accept", {"ratio": "0.9"}), 422)
    accepted = world.bureau.post(f"{API}/declarations/{declared['id']}/accept", {"ratio": "0.65"}).get_json()
    assert accepted["agreed"] == 650
    line, = world.bureau.get(f"{API}/agreed-volumes?institution_code={H1}").get_json()["items"]
    assert line["agreed"] == 650 and line["agreed_source"] == "declaration" and line["year_end"] == "2028-01-01"
    by_admin = world.admin.post(f"{API}/declarations", {**body, "institution_code": "P370811001"})
    assert by_admin.status_code == 201
    explicit = world.bureau.post(f"{API}/declarations/{by_admin.get_json()['id']}/accept", {"quantity": 12}).get_json()
    assert explicit["agreed"] == 12
    problem(world.bureau.get(f"{API}/declarations/999"), 404)
