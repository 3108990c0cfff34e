"""Test data helpers shared by the suites."""

import itertools

from stdnum.cn import ric

_serial = itertools.count(1)


def resident_id(area: str = "370811", born: str = "19800101") -> str:
    """A valid 18-character resident ID number, different at each call."""
    body = f"{area}{born}{next(_serial) % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


_trace = itertools.count(1)


def trace_codes(n: int, product: str = "8123456") -> list[str]:
    """n fresh 20-digit traceability codes (first 7 digits: the product)."""
    return [f"{product}{next(_trace):013d}" for _ in range(n)]


# Real places (WGS-84) in known county-level divisions.
PLACES = {
    "370811": (35.4148, 116.5873),  # 任城区, near 济宁市政府
    "370881": (35.5966, 116.9914),  # 曲阜市, 孔庙
    "370883": (35.4055, 116.9730),  # 邹城市
    "370832": (35.8020, 116.0960),  # 梁山县
    "370902": (36.1863, 117.1297),  # 泰安市泰山区 (another city)
}
