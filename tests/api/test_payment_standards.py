"""Dated payment standards: a batch's selected price becomes the standard of every drug of the
same generic name from its effective date (service level, and the drugs endpoint)."""

from datetime import date
from decimal import Decimal as D

import pytest

from dualchannel import db
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.procurement import batches
from tests.api.procurement_support import API, batch, product

ADMIN = Actor(Role.admin, None, "test")
GENERIC = "苯磺酸氨氯地平片"


@pytest.fixture
def session(app):
    with app.app_context():
        s = db.new_session()
        yield s
        s.close()


def drug(session, code, price, generic=GENERIC):
    return drugs.create_drug(session, ADMIN, code=code, generic_name=generic, name=f"{generic} {code}", unit="片",
                             payment_standard=D(price), agreed_price=D(price))


def standard(session, code, on, insurance=None):
    return drugs.payment_standard_on(session, drugs.get_drug(session, code), on, insurance=insurance)


def test_selected_price_is_the_standard_of_every_drug_of_the_generic_from_the_effective_date(app, session):
    drug(session, "NORVASC", "4.50")  # 络活喜: far above (≥ 2 × selected)
    drug(session, "AML-G", "0.20")  # above, but below 2 × selected
    drug(session, "AML-C", "0.10")  # below the selected price
    drug(session, "ATOR", "3.00", generic="阿托伐他汀钙片")
    batches.create_batch(session, ADMIN, code="B3", name="第三批", kind="drug", cycle_start=date(2026, 3, 1),
                             cycle_end=date(2029, 2, 28), effective_date=date(2026, 3, 1))
    batches.add_product(session, ADMIN, "B3", code="AML-SEL", generic_name=GENERIC, manufacturer="浙江华海药业",
                            name="苯磺酸氨氯地平片 5mg", specification="5mg×28片", unit="片", price=D("0.15"),
                            status="selected")

    before, after = date(2026, 2, 28), date(2026, 3, 1)
    assert standard(session, "AML-G", before) == (D("0.20"), D(0))
    assert standard(session, "AML-G", after) == (D("0.15"), D(0))
    assert standard(session, "AML-C", after) == (D("0.10"), D(0))  # the actual price is paid
    assert standard(session, "ATOR", after) == (D("3.00"), D(0))  # another generic is untouched
    # Far above: steps down over three years (rules.DEFAULT_STEP_DOWN), reaching the selected price.
    assert standard(session, "NORVASC", before)[0] == D("4.50")
    assert standard(session, "NORVASC", after)[0] == D("3.15")  # 0.7 × 4.50
    assert standard(session, "NORVASC", date(2027, 3, 1))[0] == D("1.65")  # 0.35 × 4.50 + 0.5 × 0.15
    assert standard(session, "NORVASC", date(2028, 2, 29))[0] == D("1.65")
    assert standard(session, "NORVASC", date(2028, 3, 1))[0] == D("0.15")

    # A second selected company with a higher price: the highest selected price is the standard.
    batches.add_product(session, ADMIN, "B3", code="AML-SEL2", generic_name=GENERIC, manufacturer="石药集团",
                            name="苯磺酸氨氯地平片", specification="5mg×7片", unit="片", price=D("0.18"), status="selected")
    assert standard(session, "AML-G", after) == (D("0.18"), D(0))

    assert standard(session, "NORVASC", date(2027, 3, 1))[0] == D("1.665")  # 0.35 × 4.50 + 0.5 × 0.18

    # A later batch of the same generic takes over from its own effective date; the originator's
    # step-down continues from where it stands instead of starting again.
    batches.create_batch(session, ADMIN, code="B9", name="接续采购", kind="drug", cycle_start=date(2027, 9, 1),
                             cycle_end=date(2029, 8, 31))
    batches.add_product(session, ADMIN, "B9", code="AML-RENEW", generic_name=GENERIC, manufacturer="浙江华海药业",
                            name="苯磺酸氨氯地平片", specification="5mg×28片", unit="片", price=D("0.12"), status="selected")
    assert standard(session, "AML-G", date(2027, 8, 31)) == (D("0.18"), D(0))
    # 0.20 is 1.67 × the new selected price: no cliff at 2 × (issue 21), it steps down too,
    # from max(0.12, 70 % of 0.20).
    assert standard(session, "AML-G", date(2027, 9, 1)) == (D("0.14"), D(0))
    assert standard(session, "AML-G", date(2028, 9, 1)) == (D("0.13"), D(0))  # 0.35 × 0.20 + 0.5 × 0.12
    assert standard(session, "AML-G", date(2029, 9, 1)) == (D("0.12"), D(0))
    assert standard(session, "NORVASC", date(2027, 9, 1))[0] == D("1.665")
    assert standard(session, "NORVASC", date(2028, 3, 1))[0] == D("1.665")  # B3's third year no longer applies
    assert standard(session, "NORVASC", date(2028, 9, 1))[0] == D("1.635")  # 0.35 × 4.50 + 0.5 × 0.12
    assert standard(session, "NORVASC", date(2029, 9, 1))[0] == D("0.12")


def test_first_self_pay_ratios_of_selected_consumables(app, session):
    drug(session, "LENS-A", "800.00", generic="人工晶体")  # priced at the selected price
    drug(session, "LENS-B", "5000.00", generic="人工晶体")  # far above
    batches.create_batch(session, ADMIN, code="GH2024", name="人工晶体类", kind="consumable",
                             cycle_start=date(2024, 5, 31), cycle_end=date(2026, 5, 30), first_self_pay_base=D("0.3"))
    batches.add_product(session, ADMIN, "GH2024", code="LENS-SEL", generic_name="人工晶体", manufacturer="爱尔康",
                            name="人工晶体", specification="单焦点", unit="个", price=D("800.00"), status="selected")
    on = date(2024, 6, 1)
    assert standard(session, "LENS-A", on, "employee") == (D("800.00"), D(0))
    assert standard(session, "LENS-A", on, "resident") == (D("800.00"), D("0.2"))
    assert standard(session, "LENS-A", on) == (D("800.00"), D("0.3"))
    assert standard(session, "LENS-B", on, "employee") == (D("3500.00"), D("0.3"))  # not selected: base ratio
    assert standard(session, "LENS-A", date(2024, 5, 30), "resident") == (D("800.00"), D(0))  # before: unchanged


def test_the_payment_standard_endpoint(world):
    batch(world.admin, "B2026", effective="2026-03-01")
    product(world.admin, "B2026", "SAC-SEL", generic="沙库巴曲缬沙坦钠片", price="70.0000")
    before = world.pharmacy.get("/api/v1/drugs/SAC/payment-standard?on=2026-02-28&insurance=resident").get_json()
    assert before["standard"] == "91.00" and before["source_batch"] is None
    after = world.pharmacy.get("/api/v1/drugs/SAC/payment-standard?on=2026-03-01").get_json()
    assert after["standard"] == "70.00" and after["source_batch"] == "B2026" and after["effective_from"] == "2026-03-01"
    assert world.pharmacy.get("/api/v1/drugs/SAC/payment-standard?on=x").status_code == 422
    assert world.pharmacy.get("/api/v1/drugs/SAC/payment-standard?on=2026-03-01&insurance=x").status_code == 422
    assert world.pharmacy.get("/api/v1/drugs/NOPE/payment-standard?on=2026-03-01").status_code == 404
    assert world.admin.get(f"{API}/products/SAC-SEL").get_json()["price"] == "70.00"


def test_a_drug_added_later_gets_its_step_down_at_the_next_scan(app, session, runner):
    batches.create_batch(session, ADMIN, code="B3", name="第三批", kind="drug", cycle_start=date(2026, 3, 1),
                             cycle_end=date(2029, 2, 28))
    batches.add_product(session, ADMIN, "B3", code="AML-SEL", generic_name=GENERIC, manufacturer="浙江华海药业",
                            name="苯磺酸氨氯地平片", specification="5mg", unit="片", price=D("0.15"), status="selected")
    drug(session, "NORVASC", "4.50")
    assert standard(session, "NORVASC", date(2026, 3, 1))[0] == D("0.15")  # the generic's row only
    session.rollback()  # end the read transaction: SQLite lets one writer in at a time
    assert runner.invoke(args=["procurement", "scan"]).exit_code == 0
    session.expire_all()
    assert standard(session, "NORVASC", date(2026, 3, 1))[0] == D("3.15")


def test_an_unknown_insurance_type_is_invalid(app, session):
    from dualchannel.errors import Invalid

    with pytest.raises(Invalid):
        standard(session, drug(session, "X1", "1.00").code, date(2026, 1, 1), "farmer")
