"""Helpers for the procurement tests: a batch with products, purchases, moving the clock."""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dualchannel import clock
from tests.api.conftest import created

API = "/api/v1/procurement"


def travel_to(day: date) -> None:
    """Move the service's clock to 10:00 China time on `day`."""
    clock.travel(clock.start_of_day(day) + timedelta(hours=10) - clock.now())


def batch(actor, code="B2026", *, kind="drug", start="2026-01-01", end="2026-12-31", effective=None, **extra):
    body = {"code": code, "name": f"第{code}批集采", "kind": kind, "cycle_start": start, "cycle_end": end,
            "effective_date": effective or start, **extra}
    return created(actor.post(f"{API}/batches", body))


def product(actor, batch_code, code, *, generic="苯磺酸氨氯地平片", status="selected", price="0.1500",
            manufacturer="浙江华海药业", **extra):
    body = {"code": code, "generic_name": generic, "manufacturer": manufacturer, "name": f"{generic} {code}",
            "specification": "5mg", "unit": "片", "price": price, "status": status, **extra}
    return created(actor.post(f"{API}/batches/{batch_code}/products", body))


def agree(actor, institution, product_code, quantity, year_start="2026-01-01"):
    response = actor.put(f"{API}/agreed-volumes", {"institution_code": institution, "product_code": product_code,
                                                  "year_start": year_start, "quantity": quantity})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def buy(actor, institution, product_code, quantity, on, amount=None, **extra):
    """A purchase; without `amount`, at the product's own price (a selected product bought at
    any other price is flagged: 不得再次议价)."""
    if amount is None:
        price = Decimal(actor.get(f"{API}/products/{product_code}").get_json()["price"])
        amount = str((price * quantity).quantize(Decimal("0.01"), ROUND_HALF_UP))
    body = {"institution_code": institution, "product_code": product_code, "quantity": quantity,
            "amount": amount, "date": on, **extra}
    return created(actor.post(f"{API}/purchases", body))


def execution(actor, **query):
    response = actor.get(f"{API}/execution", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def item_of(report, institution, product_code):
    matches = [i for i in report["items"] if i["institution_code"] == institution and i["product_code"] == product_code]
    assert len(matches) == 1, report["items"]
    return matches[0]


def flags_of(actor, **query):
    response = actor.get("/api/v1/flags", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]
