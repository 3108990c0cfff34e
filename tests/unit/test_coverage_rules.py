"""Coverage rules with plain values: regions, counting, roll-ups, what-if, readiness, nearest."""

import numpy as np
import pytest
from geopy.distance import geodesic

from dualchannel.coverage import rules
from dualchannel.coverage.rules import CountyCoverage, Readiness
from dualchannel.geo.boundaries import County


def county(adcode, name="某县", city="370800", city_name="济宁市", province="370000", province_name="山东省"):
    return County(adcode, name, city, city_name, province, province_name)


RENCHENG = county("370811", "任城区")
SISHUI = county("370831", "泗水县")
TAISHAN = county("370902", "泰山区", "370900", "泰安市")
DONGCHENG = county("110101", "东城区", "110000", "北京市", "110000", "北京市")
DONGGUAN = county("441900", "东莞市", "441900", "东莞市", "440000", "广东省")


@pytest.mark.parametrize(("adcode", "counties", "level", "name"), [
    ("100000", [RENCHENG], "national", "全国"),
    ("370000", [RENCHENG, TAISHAN], "province", "山东省"),
    ("370800", [RENCHENG, SISHUI], "city", "济宁市"),
    ("370831", [SISHUI], "county", "泗水县"),
    ("110000", [DONGCHENG], "province", "北京市"),  # a municipality is a province first
    ("441900", [DONGGUAN], "city", "东莞市"),  # a city without counties is a city
])
def test_describe_region(adcode, counties, level, name):
    assert rules.describe_region(adcode, counties) == rules.Region(adcode, level, name)


def test_report_counts_active_pharmacies_and_lists_the_uncovered():
    counts = {"370811": {"active": 2, "applied": 1}, "370831": {"applied": 1, "exited": 3},
              "370902": {"suspended": 1}}
    report = rules.build_report(rules.Region("370000", "province", "山东省"), [RENCHENG, SISHUI, TAISHAN], counts)
    assert [(r.county.adcode, r.active, r.applied, r.suspended, r.covered) for r in report.counties] == [
        ("370811", 2, 1, 0, True), ("370831", 0, 1, 0, False), ("370902", 0, 0, 1, False)]
    assert (report.total, report.covered, report.uncovered) == (3, 1, ["370831", "370902"])
    assert report.cities == (rules.Tally("370800", "济宁市", 2, 1, ("370831",)),
                             rules.Tally("370900", "泰安市", 1, 0, ("370902",)))
    assert report.provinces == ()


def test_roll_ups_by_level():
    counts = {"370811": {"active": 1}, "110101": {"active": 1}}
    national = rules.build_report(rules.Region("100000", "national", "全国"), [DONGCHENG, RENCHENG, SISHUI], counts)
    assert [(t.adcode, t.total, t.covered) for t in national.provinces] == [("110000", 1, 1), ("370000", 2, 1)]
    assert [(t.adcode, t.total, t.covered) for t in national.cities] == [("110000", 1, 1), ("370800", 2, 1)]
    city = rules.build_report(rules.Region("370800", "city", "济宁市"), [RENCHENG, SISHUI], counts)
    assert city.cities == () and city.provinces == ()


def test_losing_coverage():
    rows = [CountyCoverage(RENCHENG, active=2), CountyCoverage(SISHUI, active=1), CountyCoverage(TAISHAN, active=0)]
    assert rules.losing_coverage(rows, {}) == []
    assert rules.losing_coverage(rows, {"370811": 1}) == []
    assert [r.county.adcode for r in rules.losing_coverage(rows, {"370811": 2, "370831": 1})] == ["370811", "370831"]
    assert rules.losing_coverage(rows, {"370902": 1}) == []  # was not covered: loses nothing


def ready(traceability=True, cold_chain=True, drugs_in_stock=10, status="applied", documented=True):
    return Readiness(traceability, cold_chain, drugs_in_stock, status, documented)


def test_readiness_order_is_traceability_cold_chain_stock_status_documented():
    candidates = [
        ("G", ready(documented=False)),
        ("A", ready()),
        ("F", ready(status="suspended")),
        ("E", ready(drugs_in_stock=3)),
        ("D", ready(cold_chain=False, drugs_in_stock=20)),
        ("C", ready(traceability=False, drugs_in_stock=20)),
        ("B", ready()),
    ]
    ranked = [code for code, _ in rules.rank_by_readiness(candidates, tie=lambda code: code)]
    assert ranked == ["A", "B", "G", "F", "E", "D", "C"]


def test_nearest_agrees_with_brute_force_geodesic():
    rng = np.random.default_rng(7)
    points = list(zip(rng.uniform(34.5, 36.5, 400), rng.uniform(115.5, 118.0, 400)))
    for origin in [(35.41, 116.59), (35.0, 117.9), (36.4, 115.6)]:
        exact = sorted((geodesic(origin, p).km, i) for i, p in enumerate(points))
        assert rules.nearest(origin, points, 5) == [(i, round(km, 2)) for km, i in exact[:5]]


def test_nearest_edge_cases():
    assert rules.nearest((35.0, 117.0), [], 3) == []
    assert rules.nearest((35.0, 117.0), [(35.0, 117.0)], 0) == []
    two = rules.nearest((35.0, 117.0), [(36.0, 117.0), (35.0, 117.0)], 5)
    assert [i for i, _ in two] == [1, 0] and two[0][1] == 0.0 and two[1][1] == pytest.approx(110.95, abs=0.05)
