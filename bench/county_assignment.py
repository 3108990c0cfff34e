"""Benchmark: assign random points in China to counties, vectorised vs per point.

Run from the repository root::

    python bench/county_assignment.py [--points 1000000] [--loop-points 20000]

Points are drawn uniformly in China's bounding box and kept if they fall in
the union of all counties, so every point has a county.  The same run times

* ``Boundaries.counties_of`` on all points (the vectorised path),
* ``STRtree.query(points, predicate="intersects")`` on all points, for
  reference (the textbook call that ``counties_of`` improves on),
* a per-point Python loop of ``Boundaries.county_of`` on a subsample,
  extrapolated to points per second,

checks that all three agree, and prints the rates and the speed-up.
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--loop-points", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20210801)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    boundaries = Boundaries()
    load_s = time.perf_counter() - t0
    print(f"loaded {len(boundaries)} counties in {load_s:.2f} s")

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    lats, lons = random_points_in_china(boundaries, args.points, rng)
    print(f"sampled {len(lats):,} points inside China in {time.perf_counter() - t0:.2f} s")

    t0 = time.perf_counter()
    vectorised = boundaries.counties_of(lats, lons)
    vec_s = time.perf_counter() - t0
    vec_rate = len(lats) / vec_s
    unassigned = int((vectorised < 0).sum())

    tree = shapely.STRtree(boundaries.geometries)
    t0 = time.perf_counter()
    points = shapely.points(lons, lats)
    point_idx, county_idx = tree.query(points, predicate="intersects")
    reference = np.full(len(lats), np.iinfo(np.intp).max, dtype=np.intp)
    np.minimum.at(reference, point_idx, county_idx)
    ref_s = time.perf_counter() - t0
    ref_rate = len(lats) / ref_s
    reference[reference == np.iinfo(np.intp).max] = -1

    m = min(args.loop_points, len(lats))
    index_of = {c.adcode: i for i, c in enumerate(boundaries.counties)}
    t0 = time.perf_counter()
    looped = [boundaries.county_of(float(lat), float(lon)) for lat, lon in zip(lats[:m], lons[:m])]
    loop_s = time.perf_counter() - t0
    loop_rate = m / loop_s
    looped_idx = np.array([-1 if c is None else index_of[c.adcode] for c in looped], dtype=np.intp)

    agree_loop = bool(np.array_equal(looped_idx, vectorised[:m]))
    agree_ref = bool(np.array_equal(reference, vectorised))
    print(f"vectorised counties_of:          {vec_rate:>12,.0f} points/s  ({len(lats):,} points in {vec_s:.2f} s)")
    print(f"STRtree.query(intersects):       {ref_rate:>12,.0f} points/s  ({len(lats):,} points in {ref_s:.2f} s)")
    print(f"per-point county_of loop:        {loop_rate:>12,.0f} points/s  ({m:,} points in {loop_s:.2f} s, "
          f"1M would take {1_000_000 / loop_rate:.0f} s)")
    print(f"speed-up vectorised / loop:      {vec_rate / loop_rate:>12.1f} x")
    print(f"unassigned points: {unassigned}; loop agrees: {agree_loop}; query(intersects) agrees: {agree_ref}")
    return 0 if agree_loop and agree_ref else 1


if __name__ == "__main__":
    raise SystemExit(main())
