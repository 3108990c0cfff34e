"""`dualchannel demo`: tokens per role (an institution's too), the demo patients' names and ID
numbers for real-name verification, and a 集采 batch with something to see on every tab."""

import click.testing
from flask.cli import ScriptInfo

from dualchannel import demo
from tests.conftest import As
from tests.support import find_resident_ids


def tokens_of(output):
    roles = ("admin", "bureau", "physician", "pharmacy", "pharmacist", "institution")
    return {line.split()[0]: line.split()[-1] for line in output.splitlines()
            if line.split() and line.split()[0] in roles}


def test_demo_prints_the_patients_full_numbers_only_when_asked(app):
    # A plain click runner, not the app's (which the privacy guard watches): these numbers are
    # the demo's fictitious patients, printed on purpose for the person running the demo.
    result = click.testing.CliRunner().invoke(app.cli, ["demo", "--id-numbers"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    printed = find_resident_ids(result.output)
    assert sorted(printed) == sorted(number for _, number in demo.patient_list())
    for name, number in demo.patient_list():
        assert any(name in line and number in line for line in result.output.splitlines()), (name, result.output)
    assert set(tokens_of(result.output)) == {"admin", "bureau", "physician", "pharmacy", "pharmacist", "institution"}


def test_demo_masks_the_numbers_when_output_is_captured(runner, client):
    result = runner.invoke(args=["demo"])  # the guarded runner: no full number may appear
    assert result.exit_code == 0, result.output
    assert "张三" in result.output and "370811********101X" in result.output
    tokens = tokens_of(result.output)
    bureau, institution = As(client, tokens["bureau"]), As(client, tokens["institution"])
    me = institution.get("/api/v1/me").get_json()
    assert (me["role"], me["subject"]) == ("institution", "H370811001")

    # The 集采 batch: lines behind and ahead of the time-elapsed schedule, alerts raised.
    report = bureau.get("/api/v1/procurement/execution", query_string={"region": "370800", "limit": 100}).get_json()
    lines = [i for i in report["items"] if i.get("agreed")]
    assert len(lines) == len(demo.AGREED)
    assert any(i["behind"] for i in lines) and any(not i["behind"] for i in lines)
    assert any(float(i["completed_share"]) > float(i["schedule_share"]) for i in lines)
    behind = bureau.get("/api/v1/flags", query_string={"type": "procurement_behind_schedule"}).get_json()["items"]
    assert behind
    # A supply problem not yet confirmed, and a declaration awaiting the bureau.
    problems = bureau.get("/api/v1/procurement/supply-problems").get_json()["items"]
    assert [p["institution_code"] for p in problems] == ["H370812001"] and not problems[0]["confirmed_on"]
    declarations = bureau.get("/api/v1/procurement/declarations", query_string={"status": "submitted"}).get_json()
    assert [d["institution_code"] for d in declarations["items"]] == ["H370883001"]
    # The institution sees its own execution.
    own = institution.get("/api/v1/procurement/execution").get_json()["items"]
    assert own and {i["institution_code"] for i in own} == {"H370811001"}
