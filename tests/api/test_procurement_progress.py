"""The set-based progress (running monthly totals of each line, plus the partial month read
from the purchases) against a plain aggregation of the purchases, at many dates, and its
`behind` against the rules."""

import random
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from dualchannel import db
from dualchannel.auth import Actor, Role
from dualchannel.institutions import services as institutions
from dualchannel.procurement import batches, progress, purchases, volumes
from dualchannel.procurement.rules import agreement as rules
from dualchannel.procurement.models import Line, Purchase
from tests.api.procurement_support import travel_to

ADMIN = Actor(Role.admin, None, "test")
CODES = ["H370811001", "H370811002", "H370812001"]


def fill(session, rng: random.Random, until: date) -> None:
    """A cycle starting on 31 May (months end on the 30th/31st), two products, three
    institutions, agreed volumes, and 150 purchases on random dates up to `until`."""
    for code in CODES:
        institutions.create_institution(session, ADMIN, code=code, name=code, adcode=code[1:7])
    batches.create_batch(session, ADMIN, code="GH", name="骨科创伤类", kind="consumable",
                          cycle_start=date(2024, 5, 31), cycle_end=date(2026, 5, 30))
    for code, status in (("SEL", "selected"), ("NON", "non_selected")):
        batches.add_product(session, ADMIN, "GH", code=code, generic_name="接骨板", manufacturer=code,
                             name=code, specification="", unit="套", price=D("100.00"), status=status)
    for code in CODES:
        for year in ("2024-05-31", "2025-05-31"):
            volumes.set_agreed_volume(session, ADMIN, institution_code=code, product_code="SEL",
                                       year_start=date.fromisoformat(year), quantity=rng.randint(0, 400))
    for _ in range(150):
        day = date(2024, 5, 31) + timedelta(days=rng.randrange((until - date(2024, 5, 31)).days + 1))
        purchases.record_purchase(session, ADMIN, institution_code=rng.choice(CODES),
                                 product_code=rng.choice(["SEL", "SEL", "NON"]), quantity=rng.randint(1, 40),
                                 amount=D(rng.randint(0, 500000)) / 100, date=day)


@pytest.fixture
def session(app):
    with app.app_context():
        s = db.new_session()
        yield s
        s.close()


def as_of_dates():
    days = [date(2024, 5, 31), date(2024, 6, 1), date(2024, 6, 29), date(2024, 6, 30), date(2024, 12, 31),
            date(2025, 2, 27), date(2025, 2, 28), date(2025, 5, 30), date(2025, 5, 31), date(2025, 6, 15),
            date(2026, 5, 30), date(2026, 6, 1), date(2026, 12, 31)]
    return days + [date(2024, 5, 31) + timedelta(days=n) for n in range(3, 740, 37)]


def assert_progress_is_the_sum_of_purchases(session, as_of: date) -> None:
    years = progress.years_in_view(session, as_of)
    year, = years
    raw = {line_id: (int(q), int(a)) for line_id, q, a in session.execute(
        sa.select(Purchase.line_id, sa.func.sum(Purchase.quantity), sa.func.sum(sa.type_coerce(Purchase.amount, sa.BigInteger)))
        .join(Line, Line.id == Purchase.line_id)
        .where(Line.year_start == year.start, Purchase.purchased_on <= as_of).group_by(Purchase.line_id))}
    rows = session.execute(progress.progress(years, as_of, sa.true(), D(0))).all()
    assert rows, as_of
    by_product = defaultdict(int)
    for row in rows:
        assert (row.purchased, row.amount_fen) == raw.get(row.line_id, (0, 0)), (as_of, row)
        by_product[row.product_id] += row.purchased
        expected = row.agreed is not None and rules.behind_schedule(
            rules.completed_share(row.agreed, row.purchased), year.schedule)
        assert bool(row.behind) is expected, (as_of, row, year.schedule)
    months = progress.monthly_totals(session, years, sa.true(), Line.product_id)
    assert {pid: sum(q for q, _ in m) for (pid, _), m in months.items()} == dict(by_product), as_of
    session.rollback()


def test_progress_equals_the_sum_of_purchases_at_every_date(session):
    travel_to(date(2027, 1, 1))
    fill(session, random.Random(20240531), until=date(2026, 5, 30))
    for as_of in as_of_dates():
        assert_progress_is_the_sum_of_purchases(session, as_of)


def test_progress_up_to_today_comes_from_the_totals(session):
    travel_to(date(2025, 2, 10))
    fill(session, random.Random(20250210), until=date(2025, 2, 10))
    for as_of in (date(2025, 1, 20), date(2025, 2, 9), date(2025, 2, 10), date(2025, 2, 11), date(2025, 4, 1)):
        year, = progress.years_in_view(session, as_of)
        assert year.complete is (as_of >= date(2025, 2, 10))
        assert_progress_is_the_sum_of_purchases(session, as_of)


def test_behind_in_sql_rounds_like_the_rules_at_the_tie(app):
    """completed 1/3 of a share against schedules on both sides of its 6-place rounding."""
    travel_to(date(2027, 1, 1))
    with app.app_context():
        session = db.new_session()
        institutions.create_institution(session, ADMIN, code="H370811001", name="x", adcode="370811")
        batches.create_batch(session, ADMIN, code="B", name="B", kind="drug", cycle_start=date(2026, 1, 1),
                              cycle_end=date(2026, 12, 31))
        batches.add_product(session, ADMIN, "B", code="P", generic_name="g", manufacturer="m", name="n",
                             specification="", unit="片", price=D("1"), status="selected")
        volumes.set_agreed_volume(session, ADMIN, institution_code="H370811001", product_code="P",
                                   year_start=date(2026, 1, 1), quantity=3_000_000)
        purchases.record_purchase(session, ADMIN, institution_code="H370811001", product_code="P", quantity=1_000_001,
                                 amount=D(0), date=date(2026, 1, 2))
        completed = rules.completed_share(3_000_000, 1_000_001)  # 0.3333336..., rounds to 0.333334
        years = progress.years_in_view(session, date(2026, 5, 1))
        for tolerance in (D("0"), D("0.000001"), D("0.333332"), D("0.333333"), D("0.333334"), D("0.4")):
            shifted = [replace(y, schedule=completed + tolerance) for y in years]
            row, = session.execute(progress.progress(shifted, date(2026, 5, 1), sa.true(), tolerance)).all()
            assert bool(row.behind) is rules.behind_schedule(completed, completed + tolerance, tolerance)
            below = [replace(y, schedule=completed + tolerance + D("0.000001")) for y in years]
            row, = session.execute(progress.progress(below, date(2026, 5, 1), sa.true(), tolerance)).all()
            assert bool(row.behind) is True
        session.close()
