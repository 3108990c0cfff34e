"""The hot steps of the dual-channel flow, driven over HTTP against a running server.

issue → route → verify → review → dispense → settle (when the settlement endpoint is in
/openapi.json) → inbox, each step measured on its own over `count` fresh prescriptions, for
bench/scale.py (bench/flow.py drives its own, spread over a city and interleaved with a
baseline). The data are the demo set's (`dualchannel demo`): physician D370811001, pharmacy
P370811001 through its pharmacist's token (which reviews, 审方), patient 孟庆华 and 诺欣妥
(XC09DX04, no eligibility needed).
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass

from bench.support import Client, Sample, request, run_load
from dualchannel import demo

DRUG = "XC09DX04"
PHARMACY = "P370811001"
SETTLEMENT = "/api/v1/prescriptions/{prescription_id}/settlement"


@dataclass
class Actors:
    port: int
    physician: str  # tokens
    pharmacy: str
    admin: str
    patient_id: int
    id_number: str


def demo_actors(port: int, tokens: dict[str, str]) -> Actors:
    """The demo patient used by the flow, found through the API; the pharmacy's stock raised."""
    id_number = demo._resident_id("370811", "19770630", 106)  # 孟庆华, the demo's sixth patient
    status, patient = request(port, "POST", "/api/v1/patients/search", {"id_number": id_number, "name": "孟庆华"},
                              tokens["admin"])
    assert status == 200, patient
    status, body = request(port, "PUT", f"/api/v1/pharmacies/{PHARMACY}/stock", {DRUG: 5_000_000},
                           tokens["admin"])
    assert status == 200, body
    return Actors(port, tokens["physician"], tokens.get("pharmacist", tokens["pharmacy"]), tokens["admin"],
                  patient["id"], id_number)


def has_settlement(port: int) -> bool:
    _, spec = request(port, "GET", "/openapi.json")
    return SETTLEMENT in spec["paths"]


def _clients(port: int, token: str, threads: int) -> list[Client]:
    return [Client(port, token) for _ in range(threads)]


def run_steps(actors: Actors, *, count: int, threads: int, rate: float | None, max_seconds: float,
              prefix: str = "") -> list[Sample]:
    """Each hot step over `count` prescriptions; returns one Sample per step."""
    port = actors.port
    samples = []
    issued: dict[int, int] = {}  # job index -> prescription id (each thread writes its own keys)

    def step(name, token, jobs, call):
        clients = _clients(port, token, threads)
        try:
            sample = run_load(prefix + name, jobs, lambda i, job: call(clients[i], job), threads=threads,
                              rate=rate, max_seconds=max_seconds)
        finally:
            for c in clients:
                c.close()
        samples.append(sample)
        return sample

    body = {"patient_id": actors.patient_id, "diagnosis": "慢性心力衰竭", "valid_days": 3,
            "items": [{"drug_code": DRUG, "quantity": 1, "days_supply": 14, "dosage": "每日两次，每次1片"}]}

    def issue(client, index):
        status, answer = client.call("POST", "/api/v1/prescriptions", body)
        if status == 201:
            issued[index] = answer["id"]
        return status

    step("issue", actors.physician, list(range(count)), issue)
    ids = [issued[i] for i in sorted(issued)]

    step("route", actors.physician, ids, lambda c, rx: c.call(
        "POST", f"/api/v1/prescriptions/{rx}/route", {"pharmacy_code": PHARMACY})[0])
    step("verify", actors.pharmacy, ids, lambda c, rx: c.call(
        "POST", f"/api/v1/prescriptions/{rx}/verify", {"id_number": actors.id_number})[0])
    step("review", actors.pharmacy, ids, lambda c, rx: c.call(
        "POST", f"/api/v1/prescriptions/{rx}/review", {"outcome": "approved"})[0])
    serial = itertools.count(random.randrange(10**9))
    codes = {rx: demo.trace_code(DRUG, next(serial)) for rx in ids}
    step("dispense", actors.pharmacy, ids, lambda c, rx: c.call(
        "POST", f"/api/v1/prescriptions/{rx}/dispense", {"items": [{"drug_code": DRUG, "trace_codes": [codes[rx]]}]})[0])
    if has_settlement(port):
        step("settle", actors.pharmacy, ids, lambda c, rx: c.call(
            "POST", SETTLEMENT.format(prescription_id=rx), {}, headers={"Idempotency-Key": str(uuid.uuid4())})[0])
    step("inbox", actors.pharmacy, list(range(count)), lambda c, _: c.call("GET", "/api/v1/pharmacy/inbox")[0])
    return samples


def routed_backlog(actors: Actors, count: int) -> None:
    """`count` prescriptions issued and routed to the pharmacy and left there (its inbox)."""
    physician = Client(actors.port, actors.physician)
    body = {"patient_id": actors.patient_id, "diagnosis": "慢性心力衰竭", "valid_days": 3,
            "items": [{"drug_code": DRUG, "quantity": 1, "days_supply": 14, "dosage": "每日两次，每次1片"}]}
    try:
        for _ in range(count):
            status, rx = physician.call("POST", "/api/v1/prescriptions", body)
            assert status == 201, rx
            status, answer = physician.call("POST", f"/api/v1/prescriptions/{rx['id']}/route",
                                            {"pharmacy_code": PHARMACY})
            assert status == 200, answer
    finally:
        physician.close()
