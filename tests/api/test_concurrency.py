"""Exactly-once transitions when many requests race, on SQLite and PostgreSQL alike."""

import threading

from tests.api.test_prescription_flow import ready_to_dispense
from tests.support import trace_codes


def race(n, call):
    """Run `call(i)` in n threads released together; returns their results."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_twenty_concurrent_dispenses_one_wins(app, world, issue):
    rx = ready_to_dispense(world, issue, "SAC", 2)
    url = f"/api/v1/prescriptions/{rx['id']}/dispense"
    headers = {"Authorization": f"Bearer {world.pharmacy.token}"}
    codes = [trace_codes(2) for _ in range(20)]

    def dispense(i):
        with app.test_client() as client:
            return client.post(url, json={"items": [{"drug_code": "SAC", "trace_codes": codes[i]}]},
                               headers=headers).status_code

    statuses = race(20, dispense)
    assert sorted(statuses) == [200] + [409] * 19, statuses
    body = world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}").get_json()
    assert body["status"] == "dispensed" and len(body["items"][0]["trace_codes"]) == 2
    assert world.pharmacy.get("/api/v1/pharmacies/P370811001/stock").get_json()["SAC"] == 48


def test_same_trace_code_raced_by_two_prescriptions(app, world, issue):
    first = ready_to_dispense(world, issue, "SAC", 1)
    second = ready_to_dispense(world, issue, "SAC", 1)
    code = trace_codes(1)
    headers = {"Authorization": f"Bearer {world.pharmacy.token}"}

    def dispense(i):
        rx = (first, second)[i]
        with app.test_client() as client:
            return client.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                               json={"items": [{"drug_code": "SAC", "trace_codes": code}]}, headers=headers).status_code

    assert sorted(race(2, dispense)) == [200, 409]
