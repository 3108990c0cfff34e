"""Benchmark: assign random points in China to counties, against the prepared-geometry limit.

Run from the repository root::

    python bench/county_assignment.py [--points 1000000] [--loop-points 20000] [--repeat 3]

Points are drawn uniformly in China's bounding box and kept if they fall in the union of all
counties, so every point has a county. The same run times, on the same points:

* ``Boundaries.counties_of`` (what the service calls);
* the prepared-geometry limit: the bare loop of one prepared ``intersects_xy`` test per county
  over that county's candidate points, with no input checks, written twice, its candidates from
  the STRtree's bulk bounding-box query of all points, or from longitude strips of the sorted
  points; the faster of the two is the limit;
* ``STRtree.query(points, predicate="intersects")``, the textbook call, once;
* a per-point Python loop of ``Boundaries.county_of`` on a subsample, extrapolated.

The timed methods run in turns (median of ``repeat`` rounds), so machine load hits each alike.
All must agree point for point. Prints points/s and the ratio of ``counties_of`` to the limit
(aim >= 0.9); exits 1 on any disagreement.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import shapely

# Run as a file, so make the repository's package importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dualchannel.geo.boundaries import Boundaries  # noqa: E402


def random_points_in_china(boundaries: Boundaries, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw n uniform (lat, lon) points inside the union of all counties."""
    union = shapely.coverage_union_all(np.asarray(boundaries.geometries))
    shapely.prepare(union)
    min_lon, min_lat, max_lon, max_lat = union.bounds
    lats: list[np.ndarray] = []
    lons: list[np.ndarray] = []
    have = 0
    while have < n:
        lat = rng.uniform(min_lat, max_lat, n)
        lon = rng.uniform(min_lon, max_lon, n)
        keep = shapely.contains_xy(union, lon, lat)
        lats.append(lat[keep])
        lons.append(lon[keep])
        have += int(keep.sum())
    return np.concatenate(lats)[:n], np.concatenate(lons)[:n]


def limit_strtree(geometries, tree, lats, lons):
    """Candidates from the STRtree's bulk query, then one prepared test per county."""
    point_idx, county_idx = tree.query(shapely.points(lons, lats))
    order = np.argsort(-county_idx)  # descending: on a shared border the lowest index is written last
    point_idx, county_idx = point_idx[order], county_idx[order]
    starts = np.flatnonzero(np.diff(county_idx, prepend=-1))
    result = np.full(len(lats), -1, dtype=np.intp)
    for start, stop in zip(starts, [*starts[1:], len(county_idx)]):
        county, points = county_idx[start], point_idx[start:stop]
        result[points[shapely.intersects_xy(geometries[county], lons[points], lats[points])]] = county
    return result


def limit_strips(geometries, bounds, lats, lons):
    """Candidates from each county's box cut out of the points sorted by longitude, then one
    prepared test per county."""
    order = np.argsort(lons)
    xs, ys = lons[order], lats[order]
    found = np.full(len(lats), -1, dtype=np.intp)
    starts = np.searchsorted(xs, bounds[:, 0], side="left")
    stops = np.searchsorted(xs, bounds[:, 2], side="right")
    for county in range(len(geometries) - 1, -1, -1):
        start, stop = starts[county], stops[county]
        column = ys[start:stop]
        inside = np.flatnonzero((column >= bounds[county, 1]) & (column <= bounds[county, 3])) + start
        found[inside[shapely.intersects_xy(geometries[county], xs[inside], ys[inside])]] = county
    result = np.empty_like(found)
    result[order] = found
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--loop-points", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the timed methods (medians)")
    parser.add_argument("--seed", type=int, default=20210801)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    boundaries = Boundaries()
    load_s = time.perf_counter() - t0
    print(f"loaded {len(boundaries)} counties in {load_s:.2f} s")

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    lats, lons = random_points_in_china(boundaries, args.points, rng)
    n = len(lats)
    print(f"sampled {n:,} points inside China in {time.perf_counter() - t0:.2f} s")

    geometries = boundaries.geometries
    tree = shapely.STRtree(geometries)
    bounds = shapely.bounds(geometries)
    methods = {
        "Boundaries.counties_of": lambda: boundaries.counties_of(lats, lons),
        "limit: STRtree + prepared": lambda: limit_strtree(geometries, tree, lats, lons),
        "limit: strips + prepared": lambda: limit_strips(geometries, bounds, lats, lons),
    }
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    answers = {}
    for _ in range(args.repeat):
        for name, run in methods.items():
            t0 = time.perf_counter()
            answers[name] = run()
            seconds[name].append(time.perf_counter() - t0)
    rates = {name: n / statistics.median(s) for name, s in seconds.items()}

    t0 = time.perf_counter()
    point_idx, county_idx = tree.query(shapely.points(lons, lats), predicate="intersects")
    reference = np.full(n, np.iinfo(np.intp).max, dtype=np.intp)
    np.minimum.at(reference, point_idx, county_idx)
    reference[reference == np.iinfo(np.intp).max] = -1
    rates["STRtree.query(intersects)"] = n / (time.perf_counter() - t0)

    m = min(args.loop_points, n)
    index_of = {c.adcode: i for i, c in enumerate(boundaries.counties)}
    t0 = time.perf_counter()
    looped = [boundaries.county_of(float(lat), float(lon)) for lat, lon in zip(lats[:m], lons[:m])]
    loop_rate = m / (time.perf_counter() - t0)
    looped_idx = np.array([-1 if c is None else index_of[c.adcode] for c in looped], dtype=np.intp)

    vectorised = answers["Boundaries.counties_of"]
    agree = {name: bool(np.array_equal(answer, vectorised)) for name, answer in answers.items()}
    agree["STRtree.query(intersects)"] = bool(np.array_equal(reference, vectorised))
    agree["county_of loop"] = bool(np.array_equal(looped_idx, vectorised[:m]))

    print(f"\n{'method':<28} {'points/s':>12}   agrees with counties_of")
    for name, rate in rates.items():
        print(f"{name:<28} {rate:>12,.0f}   {agree[name]}")
    print(f"{'county_of, point by point':<28} {loop_rate:>12,.0f}   {agree['county_of loop']}   "
          f"({m:,} points; 1M would take {1_000_000 / loop_rate:.0f} s)")
    limit = max(rates["limit: STRtree + prepared"], rates["limit: strips + prepared"])
    ratio = rates["Boundaries.counties_of"] / limit
    print(f"\ncounties_of / prepared-geometry limit: {ratio:.2f} (aim >= 0.9); "
          f"vectorised / point by point: {rates['Boundaries.counties_of'] / loop_rate:.0f} x; "
          f"unassigned points: {int((vectorised < 0).sum())}; all agree: {all(agree.values())}")
    return 0 if all(agree.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
