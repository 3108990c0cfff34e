"""Tests for dualchannel.geo.crs against published conversion pairs."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualchannel.geo.crs import CRS_NAMES, in_china, to_wgs84, wgs84_to

EXACT = 1e-9  # degrees; the forward formulas are deterministic
METRE_DEG = 1e-5  # roughly one metre in degrees


def assert_close(actual, expected, tol):
    assert abs(actual[0] - expected[0]) <= tol, (actual, expected)
    assert abs(actual[1] - expected[1]) <= tol, (actual, expected)


# Pairs published in the README/tests of wandergis/coordtransform (lon, lat
# there; (lat, lon) here) and of hujiulong/gcoord.
def test_wgs84_to_gcj02_matches_coordtransform():
    assert_close(wgs84_to(39.915, 116.404, "gcj02"), (39.91640428150164, 116.41024449916938), EXACT)


def test_wgs84_to_bd09_matches_gcoord():
    assert_close(wgs84_to(39.914266, 116.403988, "bd09"), (39.92196580126834, 116.41661560068297), EXACT)


def test_gcj02_to_bd09_matches_coordtransform():
    # coordtransform: gcj02tobd09(116.404, 39.915) = (116.41036949371029, 39.92133699351021),
    # i.e. both name the same WGS-84 point.
    from_gcj = to_wgs84(39.915, 116.404, "gcj02")
    from_bd = to_wgs84(39.92133699351021, 116.41036949371029, "bd09")
    assert_close(from_bd, from_gcj, EXACT)


def test_bd09_to_gcj02_matches_coordtransform():
    # coordtransform's bd09togcj02 is the one-step approximation (off by a few cm).
    from_bd = to_wgs84(39.915, 116.404, "bd09")
    from_gcj = to_wgs84(39.90865673957631, 116.39762729119315, "gcj02")
    assert_close(from_bd, from_gcj, 1e-6)


def test_gcj02_to_wgs84_is_exact_inverse():
    wgs = to_wgs84(39.915, 116.404, "gcj02")
    # coordtransform's gcj02towgs84 is a one-step approximation of this.
    assert_close(wgs, (39.91359571849836, 116.39775550083061), 2e-6)
    assert_close(wgs84_to(*wgs, "gcj02"), (39.915, 116.404), EXACT)


def test_gcj02_to_wgs84_matches_gcoord():
    assert_close(to_wgs84(45.0, 123.0, "gcj02"), (44.99804071, 122.99395597), 1e-6)


def test_offset_is_hundreds_of_metres_in_china():
    lat, lon = wgs84_to(39.9075, 116.3913, "gcj02")
    assert 0.001 < abs(lat - 39.9075) + abs(lon - 116.3913) < 0.01


def test_wgs84_is_identity():
    assert to_wgs84(35.5978, 116.9914, "wgs84") == (35.5978, 116.9914)
    assert wgs84_to(35.5978, 116.9914, "wgs84") == (35.5978, 116.9914)


def test_gcj02_is_identity_outside_china():
    paris = (48.8566, 2.3522)
    assert wgs84_to(*paris, "gcj02") == paris
    assert to_wgs84(*paris, "gcj02") == paris


def test_scalar_in_scalar_out():
    lat, lon = to_wgs84(35.0, 117.0, "bd09")
    assert type(lat) is float and type(lon) is float


def test_unknown_crs_is_rejected():
    with pytest.raises(ValueError, match="unknown coordinate system"):
        to_wgs84(35.0, 117.0, "WGS84")
    with pytest.raises(ValueError):
        wgs84_to(35.0, 117.0, "cgcs2000")


@pytest.mark.parametrize("crs", CRS_NAMES)
def test_vectorised_matches_scalar(crs):
    rng = np.random.default_rng(7)
    lats = rng.uniform(18.0, 53.0, 500)
    lons = rng.uniform(74.0, 134.0, 500)
    out_lat, out_lon = wgs84_to(lats, lons, crs)
    back_lat, back_lon = to_wgs84(out_lat, out_lon, crs)
    for i in range(0, 500, 50):
        assert (out_lat[i], out_lon[i]) == wgs84_to(lats[i], lons[i], crs)
        assert_close((back_lat[i], back_lon[i]), to_wgs84(out_lat[i], out_lon[i], crs), 1e-12)
    assert np.max(np.abs(back_lat - lats)) < EXACT
    assert np.max(np.abs(back_lon - lons)) < EXACT


@given(
    lat=st.floats(min_value=3.9, max_value=53.5),
    lon=st.floats(min_value=73.5, max_value=135.0),
    crs=st.sampled_from(CRS_NAMES),
)
def test_round_trip_within_a_millimetre(lat, lon, crs):
    back = to_wgs84(*wgs84_to(lat, lon, crs), crs)
    assert_close(back, (lat, lon), METRE_DEG / 1000)


def test_in_china():
    assert in_china(39.9075, 116.3913)
    assert in_china(16.83, 112.34)  # Xisha, South China Sea
    assert not in_china(48.8566, 2.3522)  # Paris
    assert not in_china(116.3913, 39.9075)  # swapped lat/lon
    assert not in_china(math.nan, 116.0)
    mask = in_china(np.array([39.9, 48.8]), np.array([116.4, 2.3]))
    assert mask.tolist() == [True, False]
