"""The coverage map's display layers (dualchannel/coverage/display.py): bytes raw and gzipped,
vertices and build time of each level, against the full-detail GeoJSON export.

Run from the repository root::

    python bench/display_layers.py [--regions 100000,370000,510000,650000,370800]

No database: the layers are drawn from the shipped boundaries with zero pharmacies.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dualchannel.coverage import display, rules  # noqa: E402
from dualchannel.geo import boundaries as geo_boundaries  # noqa: E402


def report_of(boundaries, region: str) -> rules.Report:
    counties = boundaries.counties_in(region)
    return rules.build_report(rules.describe_region(region, counties), counties, {})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", default="100000,370000,510000,650000,370800")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    boundaries = geo_boundaries.Boundaries()
    geo_boundaries.current = lambda: boundaries  # outside an app: the one set loaded here
    print(f"boundaries loaded in {time.perf_counter() - started:.1f} s")
    print(f"{'region':8} {'level':9} {'units':>5} {'vertices':>9} {'raw bytes':>11} {'gzip bytes':>11} {'build s':>7}"
          f" | {'full-detail raw':>15} {'gzip':>11}")
    for region in args.regions.split(","):
        report = report_of(boundaries, region)
        started = time.perf_counter()
        layer = display.layer(report)
        built = time.perf_counter() - started
        raw, zipped = display.sizes(report)
        vertices = sum(shapely.get_num_coordinates(shapely.from_geojson(g)) for g in layer.geometries.values())
        full = shapely.to_geojson(boundaries.geometries[[boundaries.index(r.county.adcode) for r in report.counties]])
        full_text = ("[" + ",".join(full) + "]").encode()
        print(f"{region:8} {report.region.level:9} {len(layer.geometries):5} {vertices:9,} {raw:11,} {zipped:11,}"
              f" {built:7.1f} | {len(full_text):15,} {len(gzip.compress(full_text, 6)):11,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
