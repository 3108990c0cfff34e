from dualchannel import db
from dualchannel.api import blueprint
from dualchannel.auth import current_actor
import shapely
from flask import Response

from dualchannel.coverage import display, exports, schemas, services

bp = blueprint("coverage", __name__, "County coverage of the dual-channel pharmacy network (bureau)")


@bp.get("/coverage")
@bp.arguments(schemas.RegionQuery, location="query")
@bp.response(200, schemas.CoverageOut)
def coverage(args):
    """Every county-level division of a region, its active dual-channel pharmacies, and the uncovered ones."""
    return services.coverage(db.session(), current_actor(), **args)


@bp.get("/coverage.geojson")
@bp.arguments(schemas.MapQuery, location="query")
@bp.response(200, {"type": "object"}, content_type="application/geo+json",
             description="FeatureCollection: county polygons with the report's properties, pharmacies as points")
def coverage_geojson(args):
    """The coverage report as a map (gzipped for clients that accept it)."""
    return display.compressed(exports.geojson_response(
        services.coverage_map(db.session(), current_actor(), args["region"]), crs=args["crs"]))


@bp.get("/coverage/map")
@bp.arguments(schemas.RegionQuery, location="query")
@bp.response(200, {"type": "object"}, content_type="application/geo+json",
             description="FeatureCollection of the units under the region (provinces, cities or counties), "
                         "display-simplified, with their coverage; pharmacies as points in city and county views")
def coverage_display_map(args):
    """The coverage map to draw: national by province, a province by city, a city by county (WGS-84, gzip)."""
    report, located = services.display_map(db.session(), current_actor(), args["region"])
    points = shapely.to_geojson(shapely.points([p.lon for p in located], [p.lat for p in located])) if located else []
    text = display.feature_collection(report, [(exports.pharmacy_properties(p), point)
                                               for p, point in zip(located, points)])
    return display.compressed(Response(text, mimetype="application/geo+json"))


@bp.get("/coverage.csv")
@bp.arguments(schemas.RegionQuery, location="query")
@bp.response(200, {"type": "string"}, content_type="text/csv",
             description="One line per county, UTF-8 with a byte-order mark")
def coverage_csv(args):
    """The coverage report for a spreadsheet."""
    return exports.csv_export(services.coverage(db.session(), current_actor(), **args))


@bp.get("/coverage/what-if")
@bp.arguments(schemas.WhatIfQuery, location="query")
@bp.response(200, schemas.WhatIfOut)
def what_if(args):
    """The counties that would lose coverage if the `exclude`d pharmacies left."""
    return services.what_if(db.session(), current_actor(), **args)


@bp.get("/coverage/suggestions")
@bp.arguments(schemas.SuggestionsQuery, location="query")
@bp.response(200, schemas.SuggestionsOut)
def suggestions(args):
    """Where to act for each uncovered county: candidates inside it, else the nearest active pharmacies."""
    return services.suggestions(db.session(), current_actor(), **args)
