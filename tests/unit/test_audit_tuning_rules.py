"""Which thresholds are in force where, which regions each pass of the scan covers, and which
cases an exemption covers: plain values, no database."""

from datetime import date, datetime, timezone

from dualchannel.audit.models import AuditExemption
from dualchannel.audit.rules import Thresholds
from dualchannel.audit.services import exempts, in_force, plan, scope_of

DEFAULTS = Thresholds()
OWN = {"370000": {"shopping_min_pharmacies": 4}, "370800": {"shopping_min_pharmacies": 2, "outlier_factor": 5},
       "370811": {"outlier_factor": 2.5}}


def test_the_most_specific_region_wins_field_by_field():
    assert in_force(OWN, DEFAULTS, "370811").shopping_min_pharmacies == 2  # the city's, over the province's
    assert in_force(OWN, DEFAULTS, "370811").outlier_factor == 2.5  # the county's own
    assert in_force(OWN, DEFAULTS, "370881").outlier_factor == 5.0  # another county of the city
    assert in_force(OWN, DEFAULTS, "370902").shopping_min_pharmacies == 4  # another city of the province
    assert in_force(OWN, DEFAULTS, "110101") == DEFAULTS
    assert isinstance(in_force(OWN, DEFAULTS, "370800").outlier_factor, float)
    assert isinstance(in_force({"370800": {"shopping_min_pharmacies": 2.0}}, DEFAULTS, "370800")
                      .shopping_min_pharmacies, int)


def test_every_region_is_judged_by_exactly_one_pass():
    passes = plan(OWN, DEFAULTS)
    assert [scope.region for _, scope in passes] == [None, "370000", "370800", "370811"]
    assert passes[0][1].excluded == ("370000", "370800", "370811")
    assert scope_of(OWN, "370000").excluded == ("370800", "370811")
    assert scope_of(OWN, "370800").excluded == ("370811",)
    assert scope_of(OWN, "370811").excluded == ()

    def covering(adcode):
        from dualchannel import adcodes

        return [scope.region for _, scope in passes
                if (scope.region is None or adcodes.contains(scope.region, adcode))
                and not any(adcodes.contains(r, adcode) for r in scope.excluded)]

    for adcode, expected in (("370811", ["370811"]), ("370881", ["370800"]), ("370800", ["370800"]),
                             ("370902", ["370000"]), ("110101", [None])):
        assert covering(adcode) == [expected[0]], adcode


def exemption(kind, value, rule=None, region="370800"):
    return AuditExemption(region=region, kind=kind, value=value, rule=rule, valid_until=date(2099, 1, 1), reason="r",
                          created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), created_by="bureau:370800")


CASE = {"type": "pharmacy_shopping", "region": "370800",
        "evidence": {"patient_id": 7, "generic_name": "甲磺酸奥希替尼片"}, "lines": [(1, "OSI"), (2, "OSI")]}
DIAGNOSES = {1: "非小细胞肺癌", 2: "肺癌（EGFR 突变）"}


def test_an_exemption_covers_its_patient_generic_drug_or_diagnosis_only():
    assert exempts(exemption("patient", "7"), CASE, DIAGNOSES)
    assert not exempts(exemption("patient", "8"), CASE, DIAGNOSES)
    assert exempts(exemption("generic", "甲磺酸奥希替尼片"), CASE, DIAGNOSES)
    assert exempts(exemption("drug", "OSI"), CASE, DIAGNOSES)
    assert not exempts(exemption("drug", "OSI"), {**CASE, "lines": [(1, "OSI"), (3, "OSI2")]}, DIAGNOSES)
    assert exempts(exemption("diagnosis", "肺癌"), CASE, DIAGNOSES)
    assert not exempts(exemption("diagnosis", "肺癌"), CASE, {**DIAGNOSES, 2: "心力衰竭"})  # every dispensing
    assert exempts(exemption("diagnosis", "egfr"), {**CASE, "lines": [(2, "OSI")]}, DIAGNOSES)  # any case


def test_an_exemption_keeps_to_its_rule_and_region():
    assert exempts(exemption("patient", "7", rule="pharmacy_shopping"), CASE, DIAGNOSES)
    assert not exempts(exemption("patient", "7", rule="overlapping_supply"), CASE, DIAGNOSES)
    assert not exempts(exemption("patient", "7", region="370900"), CASE, DIAGNOSES)
    assert exempts(exemption("patient", "7", region="370000"), CASE, DIAGNOSES)
    # A county's exemption does not reach a city-level (patient) case.
    assert not exempts(exemption("patient", "7", region="370811"), CASE, DIAGNOSES)
    outlier = {"type": "volume_outlier", "region": "370811",
               "evidence": {"drug_code": "OSI", "generic_name": "甲磺酸奥希替尼片", "pharmacy_code": "P1"}}
    assert exempts(exemption("drug", "OSI", region="370811"), outlier, {})
    assert not exempts(exemption("diagnosis", "肺癌"), outlier, {})
