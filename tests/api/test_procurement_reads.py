"""A GET of procurement never writes (issue 19): no INSERT, UPDATE or DELETE reaches the database
while any procurement route is read, by a bureau or by an institution, at any date, even with
alerts due. Alerts come from the writes that change progress and from the scan."""

import re
from datetime import date

import pytest

from dualchannel import db
from tests.api.procurement_support import API, agree, batch, buy, execution, flags_of, item_of, product, travel_to
from tests.support import counting_statements

H1 = "H370811001"
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE|UPSERT)\b", re.IGNORECASE)


@pytest.fixture
def procurement(world, as_role):
    """Every kind of procurement record, with alerts due that no write has raised yet: a line on
    schedule on 1 July, behind by 1 October, a declaration and a supply problem."""
    batch(world.admin)
    product(world.admin, "B2026", "AML-SEL")
    product(world.admin, "B2026", "AML-NON", status="non_selected", price="0.9000", manufacturer="辉瑞制药")
    travel_to(date(2026, 1, 1))
    agree(world.bureau, H1, "AML-SEL", 1200)
    travel_to(date(2026, 7, 1))
    buy(world.admin, H1, "AML-SEL", 600, "2026-06-30")
    institution = as_role("institution", H1)
    declared = institution.post(f"{API}/declarations", {"product_code": "AML-NON", "year_start": "2026-01-01",
                                                        "quantity": 10, "explanation": "新开科室"})
    assert declared.status_code == 201, declared.get_json()
    reported = institution.post(f"{API}/supply-problems", {"product_code": "AML-SEL", "description": "配送不及时"})
    assert reported.status_code == 201, reported.get_json()
    travel_to(date(2026, 10, 1))  # behind by now, and the supply problem is overdue: nothing raised yet
    assert flags_of(world.bureau) == []
    return {"code": "B2026", "declaration_id": declared.get_json()["id"],
            "problem_id": reported.get_json()["id"]}


def procurement_gets(app, ids) -> list[str]:
    """Every GET route of procurement, its path parameters filled from `ids`."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.rule.startswith(API):
            continue
        url = rule.rule
        for name in rule.arguments:
            value = "AML-SEL" if name == "code" and "/products/" in url else ids[name]
            url = re.sub(rf"<(?:\w+:)?{name}>", str(value), url)
        urls.append(url)
    return sorted(urls)


def test_no_procurement_get_writes(app, procurement, world, as_role):
    urls = procurement_gets(app, procurement)
    assert len(urls) >= 15 and f"{API}/execution" in urls and f"{API}/reports.csv" in urls
    engine = app.extensions[db._ENGINE]
    readers = {"bureau": world.bureau, "admin": world.admin, "institution": as_role("institution", H1)}
    dated = ["", "?as_of=2026-10-01", "?as_of=2026-12-31", "?as_of=2026-07-02"]
    read = 0
    for role, client in readers.items():
        for url in urls:
            queries = dated if url.endswith(("/execution", "/reports", "/reports.csv", "/prepayments", "/ledger")) \
                else ["?year=2026"] if url.endswith("/calendar") else [""]
            for query in queries:
                with counting_statements(engine) as counter:
                    response = client.get(url + query)
                assert response.status_code in (200, 403, 404), (role, url, response.get_json())
                read += response.status_code == 200
                writes = [s for s in counter.statements if WRITES.match(s)]
                assert writes == [], (role, url + query, writes)
    assert read >= 2 * len(urls)
    assert flags_of(world.bureau) == []  # nothing was raised by reading


def test_alerts_come_from_the_scan_and_from_writes(app, procurement, world, runner):
    report = execution(world.bureau)
    assert item_of(report, H1, "AML-SEL")["behind"] is True and item_of(report, H1, "AML-SEL")["alerts"] == []
    result = runner.invoke(args=["procurement", "scan"])
    assert result.exit_code == 0 and int(result.output.split()[0]) >= 2, result.output  # with escalations
    assert {f["type"] for f in flags_of(world.bureau, status="open")} == {"procurement_behind_schedule",
                                                                          "supply_overdue"}
    assert item_of(execution(world.bureau), H1, "AML-SEL")["alerts"] == ["procurement_behind_schedule"]

    buy(world.admin, H1, "AML-SEL", 300, "2026-09-30")  # 900 of 1,200 at 75 %: the write resolves it
    assert flags_of(world.bureau, type="procurement_behind_schedule", status="open") == []
    agree(world.bureau, H1, "AML-SEL", 1300)  # a larger volume: behind again, raised by the write
    assert len(flags_of(world.bureau, type="procurement_behind_schedule", status="open")) == 1
