"""Stand-ins for endpoints other branches are building, used ONLY while the app lacks them.

The pages already call `GET /api/v1/coverage.geojson`, `GET /api/v1/coverage/what-if` and
`POST /api/v1/prescriptions/{id}/settlement` (shapes from CONTRACT.md). Until those routes exist
in the app under test, the browser tests answer them with these contract-shaped bodies through
Playwright's request interception, so the map and the receipt are exercised now. Once a route
exists, `missing()` is False for it and the tests use the real endpoint.
"""

import json
import re
from decimal import Decimal

from sqlmodel import select

from dualchannel import db
from dualchannel.geo.boundaries import Boundaries
from dualchannel.pharmacies.models import Pharmacy, PharmacyStatus

COVERAGE_GEOJSON = "/api/v1/coverage.geojson"
WHAT_IF = "/api/v1/coverage/what-if"
SETTLEMENT = "/api/v1/prescriptions/<int:prescription_id>/settlement"


def _shape(rule: str) -> str:
    return re.sub(r"<[^>]+>", "<>", rule)  # the name of a placeholder does not matter


def missing(app, rule: str) -> bool:
    """Whether the app has no route of this shape (any placeholder names)."""
    return not any(_shape(r.rule) == _shape(rule) for r in app.url_map.iter_rules())


def _pharmacies(app):
    with app.app_context(), db.new_session() as session:
        return list(session.exec(select(Pharmacy)))


def coverage_geojson(app, region: str) -> dict:
    """Counties of `region` with `active_pharmacies` and `covered`, and pharmacies as points."""
    shapes = Boundaries(app.config.get("BOUNDARIES"))
    counties = shapes.counties_in(region)
    pharmacies = [p for p in _pharmacies(app) if p.county_adcode in {c.adcode for c in counties}]
    active = {}
    for p in pharmacies:
        if p.status == PharmacyStatus.active.value:
            active[p.county_adcode] = active.get(p.county_adcode, 0) + 1
    features = []
    for feature in shapes.geojson_features(c.adcode for c in counties):
        count = active.get(feature["id"], 0)
        feature["properties"] = {"adcode": feature["id"], "name": feature["properties"]["name"],
                                 "active_pharmacies": count, "covered": count > 0}
        features.append(feature)
    for p in pharmacies:
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                         "properties": {"code": p.code, "name": p.name, "status": p.status,
                                        "county_adcode": p.county_adcode}})
    return {"type": "FeatureCollection", "features": features}


def what_if(app, region: str, exclude: list[str]) -> dict:
    """Counties of `region` that are covered now and would not be without `exclude`."""
    shapes = Boundaries(app.config.get("BOUNDARIES"))
    inside = {c.adcode: c.name for c in shapes.counties_in(region)}
    active = [p for p in _pharmacies(app) if p.status == PharmacyStatus.active.value and p.county_adcode in inside]
    before = {p.county_adcode for p in active}
    after = {p.county_adcode for p in active if p.code not in exclude}
    return {"region": region, "exclude": exclude,
            "lost": [{"adcode": a, "name": inside[a]} for a in sorted(before - after)]}


def settlement(prescription_id: int) -> dict:
    """A settlement of 2 boxes of 诺欣妥 at 91.00 (employee, deductible already met), whose parts
    sum to the total."""
    parts = {"basic_fund": Decimal("136.50"), "critical_illness": Decimal("0.00"),
             "medical_assistance": Decimal("0.00"), "patient_pays": Decimal("45.50")}
    total = sum(parts.values())
    money = {k: f"{v:.2f}" for k, v in parts.items()}
    return {"id": 1, "prescription_id": prescription_id, "mode": "direct", "total": f"{total:.2f}", **money,
            "lines": [{"drug_code": "XC09DX04", "quantity": 2, "unit_price": "91.00", "total": f"{total:.2f}", **money}]}


def install(page, app):
    """Route the missing endpoints of `app` to the stand-ins for this page."""
    from urllib.parse import parse_qs, urlsplit

    def reply(route, body, status=200):
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    if missing(app, COVERAGE_GEOJSON):
        page.route("**/api/v1/coverage.geojson?*", lambda route: reply(
            route, coverage_geojson(app, parse_qs(urlsplit(route.request.url).query)["region"][0])))
    if missing(app, WHAT_IF):
        def answer_what_if(route):
            query = parse_qs(urlsplit(route.request.url).query)
            reply(route, what_if(app, query["region"][0], query["exclude"][0].split(",")))

        page.route("**/api/v1/coverage/what-if?*", answer_what_if)
    if missing(app, SETTLEMENT):
        def answer_settlement(route):
            reply(route, settlement(int(urlsplit(route.request.url).path.split("/")[-2])), 201)

        page.route("**/api/v1/prescriptions/*/settlement", answer_settlement)
