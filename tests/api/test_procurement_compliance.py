"""The selected-vs-non-selected rule through the API, one case per exemption of the seeds.

In every case the institution buys 100 units of the selected product and 150 of another
product of the same generic (or consumable category): without an exemption the non-selected
share is 60 % and the rule "selected at least non-selected" is broken.
"""

import pytest

from tests.api.procurement_support import API, agree, batch, buy, execution, flags_of, item_of, product

H1 = "H370811001"


def report_supply_problem(world, as_role):
    institution = as_role("institution", H1)
    problem = institution.post(f"{API}/supply-problems", {"product_code": "SEL", "description": "配送企业断货",
                                                         "reported_on": "2026-03-01"})
    assert problem.status_code == 201, problem.get_json()
    problem_id = problem.get_json()["id"]
    confirmed = world.bureau.post(f"{API}/supply-problems/{problem_id}/confirm", {"confirmed_on": "2026-03-02"})
    assert confirmed.status_code == 200, confirmed.get_json()
    resolved = institution.post(f"{API}/supply-problems/{problem_id}/resolve",
                                {"resolution": "已恢复供应", "resolved_on": "2026-03-31"})
    assert resolved.status_code == 200, resolved.get_json()


CASES = [
    # id, batch kind, other product, agreed volume of SEL, setup, compliant, treatment named in the reasons
    ("no exemption", "drug", {"status": "non_selected", "price": "2.00", "manufacturer": "辉瑞制药"},
     200, None, False, "non_selected_exceeds_selected"),
    ("backup supplier", "drug", {"status": "backup", "price": "2.00", "manufacturer": "备供药业"},
     200, None, True, "backup_supplier"),
    ("cheaper equivalent of equal quality", "drug",
     {"status": "non_selected", "price": "0.80", "manufacturer": "仿制药业", "equal_quality": True},
     200, None, True, "cheaper_equivalent"),
    ("confirmed supply problem", "drug", {"status": "non_selected", "price": "2.00", "manufacturer": "辉瑞制药"},
     200, report_supply_problem, True, "confirmed_supply_problem"),
    ("agreed volume completed, priced at the selected price", "drug",
     {"status": "non_selected", "price": "1.00", "manufacturer": "仿制药业"},
     100, None, True, "completed_at_or_below_selected_price"),
    ("agreed volume not completed, priced at the selected price", "drug",
     {"status": "non_selected", "price": "1.00", "manufacturer": "仿制药业"},
     200, None, False, "non_selected_exceeds_selected"),
    ("consumable of a selected company at its own selected price", "consumable",
     {"status": "non_selected", "price": "1.00", "manufacturer": "中选器械"},
     200, None, True, "counted_as_selected"),
    ("consumable of another company at the category's highest selected price", "consumable",
     {"status": "non_selected", "price": "1.00", "manufacturer": "未中选器械"},
     200, None, True, "not_regarded_non_selected"),
    ("consumable of another company above the category's highest selected price", "consumable",
     {"status": "non_selected", "price": "1.50", "manufacturer": "未中选器械"},
     200, None, False, "non_selected_exceeds_selected"),
]


@pytest.mark.parametrize("label,kind,other,agreed,setup,compliant,treatment", CASES, ids=[c[0] for c in CASES])
def test_selected_at_least_non_selected_with_each_exemption(world, as_role, label, kind, other, agreed, setup,
                                                            compliant, treatment):
    batch(world.admin, "C2026", kind=kind)
    category = "人工晶体" if kind == "consumable" else "苯磺酸氨氯地平片"
    maker = "中选器械" if kind == "consumable" else "浙江华海药业"
    product(world.admin, "C2026", "SEL", generic=category, price="1.00", manufacturer=maker)
    product(world.admin, "C2026", "OTHER", generic=category, **other)
    agree(world.bureau, H1, "SEL", agreed)
    buy(world.admin, H1, "SEL", 100, "2026-03-15")
    buy(world.admin, H1, "OTHER", 150, "2026-03-15")
    if setup:
        setup(world, as_role)

    report = execution(world.bureau, as_of="2026-12-31")
    line = item_of(report, H1, "OTHER")
    assert line["compliant"] is compliant, line["compliance"]
    assert any(reason.startswith(treatment) for reason in line["compliance"]["reasons"]), line["compliance"]
    assert item_of(report, H1, "SEL")["compliant"] is compliant  # one verdict per generic
    alerts = flags_of(world.bureau, type="non_selected_share_high", status="open")
    if compliant:
        assert alerts == [] and line["alerts"] == []
    else:
        assert line["non_selected_share"] == 0.6 and line["alerts"] == ["non_selected_share_high"]
        alert, = alerts
        assert alert["evidence"]["generic_name"] == category and alert["evidence"]["compliant"] is False


def test_the_non_selected_alert_is_resolved_when_selected_purchases_catch_up(world):
    batch(world.admin, "C2026")
    product(world.admin, "C2026", "SEL", price="1.00")
    product(world.admin, "C2026", "OTHER", status="non_selected", price="2.00", manufacturer="辉瑞制药")
    buy(world.admin, H1, "SEL", 100, "2026-03-15")
    buy(world.admin, H1, "OTHER", 150, "2026-03-15")  # the write raises the alert
    assert len(flags_of(world.bureau, type="non_selected_share_high", status="open")) == 1
    buy(world.admin, H1, "SEL", 50, "2026-06-01")  # and this one resolves it
    assert flags_of(world.bureau, type="non_selected_share_high", status="open") == []
