"""Pure rules of the drug catalogue: which policy a newly registered drug takes.

Seed 003 一 (济医保发〔2021〕25号): "进一步做好国谈药品（含同通用名仿制药和生物类似药，下同）落地工作" —
a negotiated drug includes the generics and biosimilars of the same generic name. So a drug
registered under the generic name of a negotiated dual-channel drug (its original) is
negotiated and dual-channel too, with the original's payment and storage policy, unless the
registration states otherwise field by field.
"""

from collections.abc import Mapping
from typing import Any

# The policy a copy takes from its original when the registration does not state it.
POLICY_FIELDS = ("negotiated", "dual_channel", "separate_payment", "requires_eligibility", "storage")
DEFAULT_POLICY: Mapping[str, Any] = {"negotiated": False, "dual_channel": False, "separate_payment": False,
                                     "requires_eligibility": False, "storage": "normal"}


def policy_of_new_drug(stated: Mapping[str, Any], original: Mapping[str, Any] | None) -> tuple[dict, str | None]:
    """The policy fields of a drug being registered, and the code of the original it follows.

    ``stated`` holds the registration's value of each of ``POLICY_FIELDS``, None where it says
    nothing. Without an ``original`` of the same generic name, unstated fields take
    ``DEFAULT_POLICY``. With one, unstated fields take the original's values, and the drug
    follows the original as long as it ends up negotiated (a bureau stating
    ``negotiated: false`` registers it outside the negotiated policy, following nothing).
    """
    fallback = original if original is not None else DEFAULT_POLICY
    values = {field: fallback[field] if stated.get(field) is None else stated[field] for field in POLICY_FIELDS}
    follows = original["code"] if original is not None and values["negotiated"] else None
    return values, follows
