"""County-level boundaries of China and point-in-county assignment.

The shipped data (``data/counties.geojson.gz``, see ``data/SOURCE.md``) holds
one WGS-84 MultiPolygon per county-level division with its city and province.
Nothing is read at import time; :class:`Boundaries` loads a file on first use
and the parsed data is cached per path for the life of the process. The app
reaches its own through :func:`current`.

All coordinates here are WGS-84; convert GCJ-02 / BD-09 input first with
:func:`dualchannel.geo.crs.to_wgs84`.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from flask import current_app
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import mapping, shape

__all__ = ["DEFAULT_PATH", "NATIONAL_ADCODE", "Boundaries", "County", "current"]

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "counties.geojson.gz"
NATIONAL_ADCODE = "100000"


@dataclass(frozen=True, slots=True)
class County:
    """A county-level division (县 / 县级市 / 区 ...) and the units above it."""

    adcode: str
    name: str
    city_adcode: str
    city_name: str
    province_adcode: str
    province_name: str


@dataclass(frozen=True)
class _Data:
    counties: tuple[County, ...]
    geometries: NDArray[np.object_]
    bounds: NDArray[np.float64]  # (min lon, min lat, max lon, max lat) per county
    tree: shapely.STRtree
    index_of: dict[str, int]
    members: dict[str, tuple[int, ...]]


def _read_json(path: Path) -> dict[str, Any]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


_PROPERTIES = ("adcode", "name", "city_adcode", "city_name", "province_adcode", "province_name")


def _own(value: Any) -> str:
    """A new string object equal to `str(value)`.

    The parsed file's strings sit among millions of short-lived coordinate floats; keeping them
    would keep those memory blocks from being returned when the floats are freed (about 200 MB
    of a process's resident memory).
    """
    return str(value).encode().decode()


@lru_cache(maxsize=None)
def _load(path: Path) -> _Data:
    payload = _read_json(path)
    features = sorted(payload["features"], key=lambda f: str(f["properties"]["adcode"]))
    counties = []
    geometries = []
    for feature in features:
        p = feature["properties"]
        counties.append(County(*(_own(p[key]) for key in _PROPERTIES)))
        geometries.append(shape(feature["geometry"]))
    del payload, features

    geoms = np.array(geometries, dtype=object)
    # Prepared geometries make each point test an indexed lookup. GEOS builds a
    # prepared polygon's point index lazily (here: at its second point test), so
    # test every county twice now: later queries, from any thread, then only
    # read, and a gunicorn master that loads the data before forking shares the
    # built indexes with its workers.
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    centres_x, centres_y = (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2
    for _ in range(2):
        shapely.intersects_xy(geoms, centres_x, centres_y)
    geoms.flags.writeable = False
    bounds.flags.writeable = False

    index_of = {c.adcode: i for i, c in enumerate(counties)}
    if len(index_of) != len(counties):
        raise ValueError(f"{path}: duplicate county adcodes")

    members: dict[str, dict[int, None]] = {NATIONAL_ADCODE: {}}
    for i, c in enumerate(counties):
        # dict keys as an ordered set: a city without counties (东莞) has the
        # same code at two levels and must not be listed twice.
        for region in (NATIONAL_ADCODE, c.province_adcode, c.city_adcode, c.adcode):
            members.setdefault(region, {})[i] = None

    return _Data(
        counties=tuple(counties),
        geometries=geoms,
        bounds=bounds,
        tree=shapely.STRtree(geoms),
        index_of=index_of,
        members={k: tuple(v) for k, v in members.items()},
    )


_load_lock = threading.Lock()

# counties_of cuts sorted points into county boxes (a constant cost per county) from this many
# points per candidate county on; below, it queries the STRtree point by point.
_STRIPS_FROM = 8


def _normalise_adcode(adcode: str | int) -> str:
    return str(adcode).strip()


class Boundaries:
    """County-level boundaries loaded from a GeoJSON FeatureCollection.

    ``path`` defaults to the shipped file; ``.gz`` files are decompressed.
    Features need the properties ``adcode``, ``name``, ``city_adcode``,
    ``city_name``, ``province_adcode`` and ``province_name`` and WGS-84
    (Multi)Polygon geometries forming a coverage (no overlaps).

    Instances are cheap: parsing happens once per path and is shared.  The
    object is read-only and safe to share between threads.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        resolved = Path(path).resolve() if path is not None else DEFAULT_PATH
        with _load_lock:
            self._data = _load(resolved)

    @property
    def counties(self) -> tuple[County, ...]:
        """All counties, sorted by adcode; ``counties_of`` indexes into this."""
        return self._data.counties

    @property
    def geometries(self) -> NDArray[np.object_]:
        """Read-only array of prepared county geometries, aligned with :attr:`counties`."""
        return self._data.geometries

    def __len__(self) -> int:
        return len(self._data.counties)

    def get(self, adcode: str | int) -> County | None:
        """Return the county with this adcode, or None if there is none."""
        i = self._data.index_of.get(_normalise_adcode(adcode))
        return None if i is None else self._data.counties[i]

    def index(self, adcode: str | int) -> int:
        """Return the position of a county in :attr:`counties`; KeyError if unknown."""
        return self._data.index_of[_normalise_adcode(adcode)]

    def geometry(self, adcode: str | int) -> shapely.Geometry:
        """Return the (WGS-84, lon/lat) MultiPolygon of a county; KeyError if unknown."""
        return self._data.geometries[self.index(adcode)]

    def counties_in(self, region_adcode: str | int) -> list[County]:
        """Return the counties of a province, city or county adcode, sorted by adcode.

        Membership follows the ``city_adcode`` / ``province_adcode`` recorded
        for each county, not adcode prefixes (a municipality's districts
        belong to e.g. 110000, Hubei's province-administered units to 429000).
        ``100000`` means the whole country.  Raises KeyError for a code that
        is not a region of the data, so a typo cannot pass as "no counties".
        """
        indexes = self._data.members[_normalise_adcode(region_adcode)]
        return [self._data.counties[i] for i in indexes]

    def counties_of(self, lats: ArrayLike, lons: ArrayLike) -> NDArray[np.intp]:
        """Assign WGS-84 points to counties, vectorised.

        Returns an int array of the same shape with indexes into
        :attr:`counties`, or -1 for points in no county (sea, abroad, holes,
        NaN).  A point on a border shared by several counties (``intersects``
        holds for each) gets the one with the lowest adcode, so the answer is
        deterministic.

        Grouped per county: a bulk bounding-box query finds each county's
        candidate points, then one prepared ``intersects_xy`` test per county
        checks all of them against its indexed polygon.  Many points are
        sorted by longitude and cut into each county's box with two binary
        searches; few points (fewer than ``_STRIPS_FROM`` per county that could
        hold them) go through the STRtree one by one instead.  Both choose the
        same candidates; ``bench/county_assignment.py`` times them.
        """
        lats_a, lons_a = np.broadcast_arrays(np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64))
        shape_ = lats_a.shape
        lat_flat = lats_a.ravel()
        lon_flat = lons_a.ravel()
        result = np.full(lat_flat.shape, -1, dtype=np.intp)
        finite = np.flatnonzero(np.isfinite(lat_flat) & np.isfinite(lon_flat))
        if finite.size == 0:
            return result.reshape(shape_)

        x = lon_flat[finite]
        y = lat_flat[finite]
        counties = self._data.tree.query(shapely.box(x.min(), y.min(), x.max(), y.max()))
        if x.size >= _STRIPS_FROM * counties.size:
            order = np.argsort(x)
            x, y, finite = x[order], y[order], finite[order]
            groups = self._strips(x, y, counties)
        else:
            groups = self._pairs(x, y)
        found = np.full(x.size, -1, dtype=np.intp)
        geometries = self._data.geometries
        # Groups come in descending county order: on a shared border the
        # lowest index (adcode), written last, wins.
        for county, points in groups:
            found[points[shapely.intersects_xy(geometries[county], x[points], y[points])]] = county
        result[finite] = found
        return result.reshape(shape_)

    def _strips(self, x: NDArray[np.float64], y: NDArray[np.float64], counties: NDArray[np.intp]):
        """(county, indexes of the points in its bounding box), counties descending; `x` sorted."""
        counties = np.sort(counties)[::-1]
        bounds = self._data.bounds[counties]
        starts = np.searchsorted(x, bounds[:, 0], side="left")
        stops = np.searchsorted(x, bounds[:, 2], side="right")
        for county, (_, min_y, _, max_y), start, stop in zip(counties, bounds, starts, stops):
            column = y[start:stop]
            inside = np.flatnonzero((column >= min_y) & (column <= max_y))
            if inside.size:
                yield county, inside + start

    def _pairs(self, x: NDArray[np.float64], y: NDArray[np.float64]):
        """The same groups from the STRtree's point-by-point bounding-box query."""
        point_idx, county_idx = self._data.tree.query(shapely.points(x, y))
        order = np.argsort(-county_idx)
        point_idx, county_idx = point_idx[order], county_idx[order]
        starts = np.flatnonzero(np.diff(county_idx, prepend=-1))
        for start, stop in zip(starts, [*starts[1:], county_idx.size]):
            yield county_idx[start], point_idx[start:stop]

    def county_of(self, lat: float, lon: float) -> County | None:
        """Return the county containing a WGS-84 point, or None (sea, abroad)."""
        i = int(self.counties_of(np.array([lat]), np.array([lon]))[0])
        return None if i < 0 else self._data.counties[i]

    def geojson_features(self, adcodes: Iterable[str | int]) -> list[dict[str, Any]]:
        """Return JSON-serialisable GeoJSON Features for the given county adcodes.

        Each feature has ``id`` = adcode, the county's properties and its
        WGS-84 geometry.  Raises KeyError for an unknown adcode.
        """
        features = []
        for adcode in adcodes:
            i = self.index(adcode)
            county = self._data.counties[i]
            features.append(
                {
                    "type": "Feature",
                    "id": county.adcode,
                    "properties": asdict(county),
                    "geometry": _as_lists(mapping(self._data.geometries[i])),
                }
            )
        return features


_APP_KEY = "dualchannel.boundaries"


def current() -> Boundaries:
    """The app's county boundaries: the shipped file, or the `BOUNDARIES` setting
    (`DUALCHANNEL_BOUNDARIES`).

    Parsed once per process (under gunicorn once, in the master before it forks the workers,
    which share it: see `gunicorn.conf.py`) and kept on the app, so a request never touches
    the file system for them.
    """
    found = current_app.extensions.get(_APP_KEY)
    if found is None:
        found = current_app.extensions[_APP_KEY] = Boundaries(current_app.config.get("BOUNDARIES"))
    return found


def _as_lists(value: Any) -> Any:
    """Turn the nested tuples of ``shapely.geometry.mapping`` into lists."""
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_as_lists(v) for v in value]
    return value
