"""Settlement exactly once under retries and races, and accumulators that add up, on SQLite
and PostgreSQL alike."""

from datetime import timedelta
from decimal import Decimal

from dualchannel import clock, db
from dualchannel.auth import Actor, Role
from dualchannel.packs.models import DispensedPack
from dualchannel.prescriptions.models import Prescription, PrescriptionItem
from dualchannel.settlements import services
from tests.api.conftest import created
from tests.api.test_concurrency import race
from tests.api.test_settlement import assert_accumulators_are_the_sums, desk  # noqa: F401 (fixture)
from tests.support import trace_codes


def post(app, token, url, key=None, body=None):
    headers = {"Authorization": f"Bearer {token}", **({"Idempotency-Key": key} if key else {})}
    with app.test_client() as client:
        return client.post(url, json=body or {}, headers=headers)


def test_twenty_concurrent_settlements_with_different_keys_settle_once(app, desk):
    who = desk.patient("employee")
    rx = desk.dispensed(who, [("D400S", 3)])
    url = f"/api/v1/prescriptions/{rx}/settlement"
    token = desk.world.pharmacy.token
    statuses = race(20, lambda i: post(app, token, url, key=f"key-{i}").status_code)
    assert sorted(statuses) == [201] + [409] * 19, statuses
    assert len(desk.world.admin.get(f"/api/v1/settlements?prescription_id={rx}").get_json()["items"]) == 1
    assert desk.accumulators(who)["fund_paid"] == "663.00"
    assert_accumulators_are_the_sums(app, who)


def test_concurrent_retries_of_one_key_settle_once(app, desk):
    who = desk.patient("employee")
    rx = desk.dispensed(who, [("D400S", 3)])
    url = f"/api/v1/prescriptions/{rx}/settlement"
    responses = race(10, lambda i: post(app, desk.world.pharmacy.token, url, key="one-key"))
    # A retry arriving while the first is still being answered is told to retry (409).
    assert {r.status_code for r in responses} <= {201, 409} and any(r.status_code == 201 for r in responses)
    assert len({r.get_data() for r in responses if r.status_code == 201}) == 1
    assert len(desk.world.admin.get(f"/api/v1/settlements?prescription_id={rx}").get_json()["items"]) == 1
    assert desk.settle(rx, key="one-key").status_code == 201
    assert_accumulators_are_the_sums(app, who)


def test_concurrent_settlements_of_one_patient_lose_no_update(app, desk):
    who = desk.patient("employee", "low_income")
    prescriptions = [desk.dispensed(who, [("D400S", 1), ("D1250", 3)]) for _ in range(8)]
    token = desk.world.pharmacy.token
    statuses = race(8, lambda i: post(app, token, f"/api/v1/prescriptions/{prescriptions[i]}/settlement").status_code)
    assert statuses == [201] * 8
    stored, count = assert_accumulators_are_the_sums(app, who)
    assert count == 8 and stored.deductible_used == Decimal("300.00")


def dispensed_rows(session, patient_id, count):
    """`count` prescriptions already dispensed, written straight to the database (the flow
    itself is tested elsewhere); returns their ids."""
    cycle = [[("D1250", 3)], [("D150", 1), ("D1250", 1)], [("SEP", 1)], [("D400S", 1)]]
    now = clock.now()
    rows = [Prescription(patient_id=patient_id, physician_code="D370811001", institution_code="H370811001",
                         patient_region="370800", diagnosis="测试", status="dispensed", issued_at=now,
                         valid_until=now + timedelta(days=1), pharmacy_code="P370811001", dispensed_at=now,
                         updated_at=now) for _ in range(count)]
    session.add_all(rows)
    session.flush()
    session.add_all(PrescriptionItem(prescription_id=row.id, drug_code=code, quantity=quantity, days_supply=28,
                                     dosage="qd")
                    for i, row in enumerate(rows) for code, quantity in cycle[i % len(cycle)])
    codes = iter(trace_codes(sum(q for i in range(count) for _, q in cycle[i % len(cycle)]), "9000001"))
    session.add_all(DispensedPack(trace_code=next(codes), prescription_id=row.id, drug_code=code,
                                  pharmacy_code="P370811001", dispensed_at=now)
                    for i, row in enumerate(rows) for code, quantity in cycle[i % len(cycle)] for _ in range(quantity))
    session.commit()
    return [row.id for row in rows]


def test_a_thousand_settlements_add_up_to_the_accumulators(app, desk):
    world = desk.world
    who = desk.patient("employee", "low_income")
    through_api = [created(desk.settle(desk.dispensed(who, items), key=f"api-{n}"))
                   for n, items in enumerate(([("D400S", 2)], [("SEP", 1)], [("D1250", 3)]))]
    with app.app_context(), db.new_session() as session:
        pharmacy = Actor(Role.pharmacy, "P370811001")
        for prescription_id in dispensed_rows(session, who.id, 1000):
            services.settle_prescription(session, pharmacy, prescription_id)
    stored, count = assert_accumulators_are_the_sums(app, who)
    # Every annual limit of the employee policy was reached on the way.
    assert stored.deductible_used == Decimal("300.00") and stored.fund_paid == Decimal("20000.00")
    assert stored.ci_paid == Decimal("5000.00") and stored.assistance_paid == Decimal("1000.00")
    # Reversals through the API, not of the latest settlement, and one settled again.
    for body in through_api[:2]:
        assert world.pharmacy.post(f"/api/v1/settlements/{body['id']}/reverse", {"reason": "冲正"}).status_code == 200
    assert desk.settle(through_api[0]["prescription_id"], key="again").status_code == 201

    # Reversed settlements freed room under the limits; later ones are not re-adjudicated.
    stored, count = assert_accumulators_are_the_sums(app, who)
    assert count == 1002 and stored.fund_paid < Decimal("20000.00")
    report = world.bureau.get("/api/v1/settlements/reconciliation?period=month").get_json()
    assert report["invariant"]["balanced"] and report["totals"]["count"] == 1002
    assert report["totals"]["basic_fund"] == str(stored.fund_paid)
