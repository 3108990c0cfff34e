"""HTTP shapes of the coverage reports (JSON; the GeoJSON and CSV exports reuse `county_properties`)."""

import marshmallow as ma
from webargs.fields import DelimitedList

from dualchannel.api import CODE, KnownRegion, RequestSchema
from dualchannel.coverage.rules import CountyCoverage, Report
from dualchannel.pharmacies.schemas import CRS, PharmacyOut

REGION_HELP = "adcode of a province, city or county; 100000 for the whole country (admin)"


class RegionQuery(RequestSchema):
    region = ma.fields.String(required=True, validate=KnownRegion(national=True), metadata={"description": REGION_HELP})


class MapQuery(RegionQuery):
    crs = ma.fields.String(load_default="wgs84", validate=CRS,
                           metadata={"description": "coordinate system of the output (RFC 7946 GeoJSON is wgs84; "
                                                    "gcj02 draws on Amap/Tencent, bd09 on Baidu)"})


class WhatIfQuery(RegionQuery):
    exclude = DelimitedList(ma.fields.String(validate=CODE), required=True, validate=ma.validate.Length(1, 500),
                            metadata={"description": "comma-separated pharmacy codes taken out of service"})


class SuggestionsQuery(RegionQuery):
    nearest = ma.fields.Integer(load_default=3, validate=ma.validate.Range(1, 10),
                                metadata={"description": "how many active pharmacies to list near a county "
                                                         "with no candidate inside"})


COUNTY_FIELDS = ("adcode", "name", "city_adcode", "city_name", "province_adcode", "province_name",
                 "active_pharmacies", "applied_pharmacies", "suspended_pharmacies", "covered")


def county_properties(row: CountyCoverage) -> dict:
    """One county's line of a report, the same in JSON, GeoJSON and CSV (keys: COUNTY_FIELDS)."""
    c = row.county
    return {"adcode": c.adcode, "name": c.name, "city_adcode": c.city_adcode, "city_name": c.city_name,
            "province_adcode": c.province_adcode, "province_name": c.province_name,
            "active_pharmacies": row.active, "applied_pharmacies": row.applied,
            "suspended_pharmacies": row.suspended, "covered": row.covered}


def _names(rows: list[CountyCoverage], at_most: int = 10) -> str:
    shown = "、".join(f"{r.county.name} ({r.county.adcode})" for r in rows[:at_most])
    return shown + (f" and {len(rows) - at_most} more" if len(rows) > at_most else "")


def summary(report: Report) -> str:
    """One sentence a bureau reads first: how many covered, and which are not."""
    uncovered = report.uncovered_counties
    text = (f"{report.region.name}: {report.covered} of {report.total} county-level divisions have an active "
            f"dual-channel pharmacy")
    return text + (f"; uncovered: {_names(uncovered)}." if uncovered else "; every one is covered.")


class CountyOut(ma.Schema):
    adcode = ma.fields.String()
    name = ma.fields.String()
    city_adcode = ma.fields.String()
    city_name = ma.fields.String()
    province_adcode = ma.fields.String()
    province_name = ma.fields.String()
    active_pharmacies = ma.fields.Integer()
    applied_pharmacies = ma.fields.Integer()
    suspended_pharmacies = ma.fields.Integer()
    covered = ma.fields.Boolean()

    @ma.pre_dump
    def flatten(self, row, **kwargs):
        return county_properties(row)


class TallyOut(ma.Schema):
    adcode = ma.fields.String()
    name = ma.fields.String()
    total = ma.fields.Integer()
    covered = ma.fields.Integer()
    uncovered = ma.fields.List(ma.fields.String())


def _report_fields(report: Report) -> dict:
    return {"region": report.region.adcode, "region_name": report.region.name, "level": report.region.level,
            "total": report.total, "covered": report.covered, "uncovered": report.uncovered}


class _RegionOut(ma.Schema):
    region = ma.fields.String()
    region_name = ma.fields.String()
    level = ma.fields.String(metadata={"description": "national, province, city or county"})
    total = ma.fields.Integer(metadata={"description": "county-level divisions in the region"})
    covered = ma.fields.Integer(metadata={"description": "of them, with an active dual-channel pharmacy"})
    uncovered = ma.fields.List(ma.fields.String(), metadata={"description": "adcodes of the others"})


class CoverageOut(_RegionOut):
    summary = ma.fields.String()
    counties = ma.fields.List(ma.fields.Nested(CountyOut))
    cities = ma.fields.List(ma.fields.Nested(TallyOut), metadata={"description": "per city (province, national)"})
    provinces = ma.fields.List(ma.fields.Nested(TallyOut), metadata={"description": "per province (national)"})

    @ma.pre_dump
    def flatten(self, report, **kwargs):
        return {**_report_fields(report), "summary": summary(report), "counties": report.counties,
                "cities": report.cities, "provinces": report.provinces}


class ExcludedOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    status = ma.fields.String()
    county_adcode = ma.fields.String()


class WhatIfOut(_RegionOut):
    summary = ma.fields.String()
    excluded = ma.fields.List(ma.fields.Nested(ExcludedOut))
    counties = ma.fields.List(ma.fields.Nested(CountyOut),
                              metadata={"description": "counties that would lose coverage"})
    would_uncover = ma.fields.List(ma.fields.String(), metadata={"description": "their adcodes"})
    covered_after = ma.fields.Integer()
    uncovered_after = ma.fields.List(ma.fields.String())

    @ma.pre_dump
    def flatten(self, outcome, **kwargs):
        losing = outcome.losing
        if losing:
            said = f"Without {', '.join(p.code for p in outcome.excluded)}, {_names(losing)} would have no active " \
                   f"dual-channel pharmacy."
        else:
            said = "No county would lose coverage."
        return {**_report_fields(outcome.report), "summary": said, "excluded": outcome.excluded,
                "counties": losing, "would_uncover": [r.county.adcode for r in losing],
                "covered_after": outcome.report.covered - len(losing), "uncovered_after": outcome.uncovered_after}


class ReadinessOut(ma.Schema):
    traceability = ma.fields.Boolean()
    cold_chain = ma.fields.Boolean()
    drugs_in_stock = ma.fields.Integer(metadata={"description": "dual-channel drugs it has in stock"})
    status = ma.fields.String()
    documented = ma.fields.Boolean(metadata={"description": "its declared county is where it stands"})


def _pharmacy_fields(pharmacy) -> dict:
    return {k: getattr(pharmacy, k) for k in PharmacyOut._declared_fields if hasattr(pharmacy, k)}


class CandidateOut(PharmacyOut):
    rank = ma.fields.Integer()
    readiness = ma.fields.Nested(ReadinessOut)

    @ma.pre_dump
    def flatten(self, ranked, **kwargs):
        rank, (pharmacy, readiness) = ranked
        return {**_pharmacy_fields(pharmacy), "rank": rank, "readiness": readiness}


class NearbyOut(PharmacyOut):
    distance_km = ma.fields.Float(metadata={"description": "geodesic, from the county's representative point"})
    county_name = ma.fields.String(allow_none=True)

    @ma.pre_dump
    def flatten(self, nearby, **kwargs):
        return {**_pharmacy_fields(nearby.pharmacy), "distance_km": nearby.distance_km,
                "county_name": nearby.county.name if nearby.county else None}


class PointOut(ma.Schema):
    lat = ma.fields.Float()
    lon = ma.fields.Float()
    crs = ma.fields.Constant("wgs84")


class SuggestionOut(CountyOut):
    advice = ma.fields.String()
    point = ma.fields.Nested(PointOut, metadata={"description": "representative point, inside the county"})
    candidates = ma.fields.List(ma.fields.Nested(CandidateOut),
                                metadata={"description": "applied or suspended pharmacies inside, readiest first"})
    nearest = ma.fields.List(ma.fields.Nested(NearbyOut),
                             metadata={"description": "active pharmacies across the border (when no candidate)"})

    @ma.pre_dump
    def flatten(self, suggestion, **kwargs):
        county = suggestion.coverage.county
        if suggestion.candidates:
            best = suggestion.candidates[0][0]
            advice = (f"Admit {best.code} ({best.name}), the readiest of {len(suggestion.candidates)} "
                      f"pharmacies inside {county.name}.")
        elif suggestion.nearest:
            near = suggestion.nearest[0]
            advice = (f"No pharmacy inside {county.name} has applied: recruit one. Until then the nearest active "
                      f"one is {near.pharmacy.code} ({near.pharmacy.name}), {near.distance_km} km away.")
        else:
            advice = f"No pharmacy inside {county.name} has applied, and there is no active one to point to."
        return {**county_properties(suggestion.coverage), "advice": advice,
                "point": {"lat": suggestion.point[0], "lon": suggestion.point[1]},
                "candidates": list(enumerate(suggestion.candidates, start=1)), "nearest": suggestion.nearest}


class SuggestionsOut(_RegionOut):
    items = ma.fields.List(ma.fields.Nested(SuggestionOut), metadata={"description": "one per uncovered county"})

    @ma.pre_dump
    def flatten(self, found, **kwargs):
        return {**_report_fields(found.report), "items": found.items}
