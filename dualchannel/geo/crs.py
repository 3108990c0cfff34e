"""Conversion between the WGS-84, GCJ-02 and BD-09 coordinate systems.

The service stores WGS-84 internally.  Coordinates coming from Chinese map
providers (Amap/Tencent: GCJ-02, Baidu: BD-09) are converted to WGS-84 at the
edge with :func:`to_wgs84`, and back with :func:`wgs84_to` when a client
needs to draw on such a map.

Library decision: the PyPI candidates were checked first.  ``prcoords``
(last release 1.0.2, 2019), ``eviltransform`` (0.1.1, 2018) and
``coord-convert`` (0.2.1, 2019, and it pulls in fiona, click and tqdm) are all
unmaintained for years and none of them is vectorised, which the boundary
build needs for millions of vertices.  So the standard published algorithm is
implemented here with numpy:

* WGS-84 -> GCJ-02 is the widely published (leaked) forward transform on the
  Krasovsky 1940 ellipsoid, applied inside the usual rough box around China
  (outside it the coordinate is returned unchanged, as all common
  implementations do).
* GCJ-02 -> WGS-84 has no closed form; it is inverted exactly by fixed-point
  iteration on the forward transform until the residual is below 1e-10
  degrees (about 0.01 mm), which converges in 2-4 steps because the offset
  field is locally almost constant.
* GCJ-02 <-> BD-09 is Baidu's published polar-coordinate tweak; its inverse
  is iterated the same way, so round trips are exact.

Every function accepts Python floats or numpy arrays (broadcast together) and
returns the same kind.  Argument order is always ``(lat, lon)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["CRS_NAMES", "in_china", "to_wgs84", "wgs84_to"]

CRS_NAMES = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# Box inside which the common GCJ-02 implementations apply the offset.
_GCJ_LAT = (0.8293, 55.8271)
_GCJ_LON = (72.004, 137.8347)

# Rough bounding box of China's territory, South China Sea islands included.
_CHINA_LAT = (3.8, 53.6)
_CHINA_LON = (73.4, 135.1)

_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 30

FloatOrArray = float | NDArray[np.float64]


def _is_scalar(*values: ArrayLike) -> bool:
    return all(np.ndim(v) == 0 for v in values)


def _as_float_arrays(lat: ArrayLike, lon: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    lat_a, lon_a = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
    return lat_a, lon_a


def _box(lat: NDArray[np.float64], lon: NDArray[np.float64], lat_range, lon_range) -> NDArray[np.bool_]:
    return (lat >= lat_range[0]) & (lat <= lat_range[1]) & (lon >= lon_range[0]) & (lon <= lon_range[1])


def in_china(lat: ArrayLike, lon: ArrayLike) -> bool | NDArray[np.bool_]:
    """Rough test whether a (lat, lon) lies within China's bounding box.

    Meant to reject obviously foreign or garbage coordinates cheaply (and a
    swapped lat/lon usually fails it).  It is a box, so it also accepts e.g.
    Mongolia or Korea; use ``Boundaries.county_of`` for the exact answer.
    Works on scalars (returns ``bool``) and arrays (returns a bool array).
    """
    lat_a, lon_a = _as_float_arrays(lat, lon)
    inside = _box(lat_a, lon_a, _CHINA_LAT, _CHINA_LON)
    return bool(inside) if _is_scalar(lat, lon) else inside


def _gcj_offset(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the GCJ-02 offset (dlat, dlon) in degrees at a WGS-84 point."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0

    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0

    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlat, dlon


def _wgs84_to_gcj02(lat, lon):
    dlat, dlon = _gcj_offset(lat, lon)
    inside = _box(lat, lon, _GCJ_LAT, _GCJ_LON)
    return np.where(inside, lat + dlat, lat), np.where(inside, lon + dlon, lon)


def _gcj02_to_bd09(lat, lon):
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.sin(theta) + 0.006, z * np.cos(theta) + 0.0065


def _bd09_to_gcj02_approx(lat, lon):
    x = lon - 0.0065
    y = lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.sin(theta), z * np.cos(theta)


def _invert(forward, target_lat, target_lon, start_lat, start_lon):
    """Solve forward(lat, lon) == target by fixed-point iteration.

    Each step moves the estimate by the residual; this converges because the
    forward transforms are the identity plus a slowly varying small offset.
    """
    lat, lon = start_lat, start_lon
    for _ in range(_MAX_ITERATIONS):
        f_lat, f_lon = forward(lat, lon)
        r_lat = target_lat - f_lat
        r_lon = target_lon - f_lon
        lat = lat + r_lat
        lon = lon + r_lon
        residual = np.maximum(np.abs(r_lat), np.abs(r_lon))
        if not np.any(residual > _TOLERANCE_DEG):
            break
    return lat, lon


def _gcj02_to_wgs84(lat, lon):
    start_lat, start_lon = _wgs84_to_gcj02(lat, lon)
    # A first guess of (2 * gcj - forward(gcj)) is already within metres.
    return _invert(_wgs84_to_gcj02, lat, lon, 2.0 * lat - start_lat, 2.0 * lon - start_lon)


def _bd09_to_gcj02(lat, lon):
    start_lat, start_lon = _bd09_to_gcj02_approx(lat, lon)
    return _invert(_gcj02_to_bd09, lat, lon, start_lat, start_lon)


def _check_crs(crs: str) -> None:
    if crs not in CRS_NAMES:
        raise ValueError(f"unknown coordinate system {crs!r}; expected one of {CRS_NAMES}")


def _result(lat_in, lon_in, lat_out, lon_out):
    if _is_scalar(lat_in, lon_in):
        return float(lat_out), float(lon_out)
    return lat_out, lon_out


def to_wgs84(lat: ArrayLike, lon: ArrayLike, crs: str) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert (lat, lon) given in ``crs`` ("wgs84", "gcj02" or "bd09") to WGS-84.

    Returns ``(lat, lon)``; floats for scalar input, arrays for array input.
    The inverse transforms are exact to about 1e-10 degrees.
    Raises ``ValueError`` for an unknown ``crs``.
    """
    _check_crs(crs)
    lat_a, lon_a = _as_float_arrays(lat, lon)
    if crs == "bd09":
        lat_a, lon_a = _bd09_to_gcj02(lat_a, lon_a)
    if crs in ("gcj02", "bd09"):
        lat_a, lon_a = _gcj02_to_wgs84(lat_a, lon_a)
    return _result(lat, lon, lat_a, lon_a)


def wgs84_to(lat: ArrayLike, lon: ArrayLike, crs: str) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert a WGS-84 (lat, lon) to ``crs`` ("wgs84", "gcj02" or "bd09").

    Returns ``(lat, lon)``; floats for scalar input, arrays for array input.
    Raises ``ValueError`` for an unknown ``crs``.
    """
    _check_crs(crs)
    lat_a, lon_a = _as_float_arrays(lat, lon)
    if crs in ("gcj02", "bd09"):
        lat_a, lon_a = _wgs84_to_gcj02(lat_a, lon_a)
    if crs == "bd09":
        lat_a, lon_a = _gcj02_to_bd09(lat_a, lon_a)
    return _result(lat, lon, lat_a, lon_a)
