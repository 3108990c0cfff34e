"""Each audit rule flags exactly its planted cases among thousands of normal dispensings."""

from datetime import timedelta

import pytest
from sqlmodel import select

from dualchannel import clock, db, synthetic
from dualchannel.flags.models import Flag

RULES = ("pharmacy_shopping", "overlapping_supply", "volume_outlier", "county_mismatch")


@pytest.fixture
def history(app):
    as_of = clock.now() - timedelta(minutes=1)
    with app.app_context(), db.engine().begin() as connection:
        planted = synthetic.generate(connection, patients=600, as_of=as_of)
    assert planted.dispensings > 3000
    return planted


def scan(runner):
    result = runner.invoke(args=["audit", "scan"])
    assert result.exit_code == 0, result.output
    return result.output


def test_each_rule_flags_exactly_the_planted_cases(app, runner, as_role, history):
    output = scan(runner)
    admin = as_role("admin")
    for kind in RULES:
        items = admin.get(f"/api/v1/flags?type={kind}&limit=500").get_json()["items"]
        with app.app_context(), db.new_session() as session:
            keys = set(session.exec(select(Flag.dedup_key).where(Flag.type == kind)))
        assert keys == history.keys[kind], (kind, keys ^ history.keys[kind])
        assert len(items) == len(history.keys[kind])
        assert all(item["evidence"] for item in items)
    assert f"{sum(len(k) for k in history.keys.values())} new flag(s)." in output


def test_second_scan_adds_nothing_and_dismissed_stay_dismissed(runner, as_role, history):
    scan(runner)
    admin = as_role("admin")
    overlap = admin.get("/api/v1/flags?type=overlapping_supply").get_json()["items"][0]
    reviewed = admin.post(f"/api/v1/flags/{overlap['id']}/review", {"decision": "dismissed", "note": "已核实为换药"})
    assert reviewed.status_code == 200 and reviewed.get_json()["status"] == "dismissed"
    assert "0 new flag(s)." in scan(runner)
    again = admin.get("/api/v1/flags?type=overlapping_supply").get_json()["items"]
    assert [f["status"] for f in again] == ["dismissed"]


def test_bureau_of_another_city_sees_none(runner, as_role, history):
    scan(runner)
    assert as_role("bureau", "370900").get("/api/v1/flags").get_json()["items"] == []
    jining = as_role("bureau", "370800").get("/api/v1/flags?limit=500").get_json()["items"]
    assert len(jining) == sum(len(k) for k in history.keys.values())
    county = as_role("bureau", "370883").get("/api/v1/flags?limit=500").get_json()["items"]
    assert {f["type"] for f in county} == {"volume_outlier"}


def test_flags_export_as_csv(runner, as_role, history):
    scan(runner)
    response = as_role("bureau", "370800").get("/api/v1/flags.csv?type=pharmacy_shopping")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("id,type,severity") and len(lines) == 1 + len(history.keys["pharmacy_shopping"])
    assert "沙库巴曲缬沙坦钠片" in text
