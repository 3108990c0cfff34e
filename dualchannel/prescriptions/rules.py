"""Pure prescription policy: the state machine, the 处方管理办法 limits and the signed content.
No database here."""

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dualchannel import clock
from dualchannel.signatures.crypto import instant


class Status(str, enum.Enum):
    issued = "issued"
    routed = "routed"
    verified = "verified"
    reviewed = "reviewed"  # a pharmacist approved it (审方通过)
    dispensed = "dispensed"
    settled = "settled"
    cancelled = "cancelled"
    expired = "expired"


class Action(str, enum.Enum):
    route = "route"
    hand_back = "return"
    verify = "verify"
    review = "review"
    refuse_review = "refuse_review"
    dispense = "dispense"
    settle = "settle"
    reverse = "reverse"
    cancel = "cancel"
    expire = "expire"


@dataclass(frozen=True)
class Transition:
    action: Action
    source: Status
    target: Status
    # who may do it: "physician" (its own), "pharmacy" (the routed one), "pharmacist" (one of
    # the routed pharmacy's, with a token bound to them), "system"
    by: str
    needs_reason: bool = False
    label: str = ""  # zh-CN, for the pages' buttons
    reason_codes: tuple[str, ...] = ()  # the reason codes it takes (one required when given)


# Why a pharmacist refuses a prescription at review (审方不通过), after 医疗机构处方审核规范
# (国卫办医发〔2018〕14号): code -> zh-CN label. `other` needs a note.
REVIEW_REFUSALS = {
    "irregular": "不规范处方",
    "indication": "适应证不适宜",
    "drug_choice": "遴选的药品不适宜",
    "dosage": "用法、用量不适宜",
    "form_or_route": "剂型或给药途径不适宜",
    "duplicate_therapy": "重复给药",
    "interaction": "有配伍禁忌或不良相互作用",
    "contraindication": "有用药禁忌",
    "other": "其他（须说明）",
}


# The one table of allowed moves: services' conditional UPDATEs and the pages' buttons read it.
TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.route, Status.issued, Status.routed, "physician", label="流转至药店"),
    Transition(Action.hand_back, Status.routed, Status.issued, "pharmacy", label="退回处方"),
    Transition(Action.hand_back, Status.verified, Status.issued, "pharmacy", label="退回处方"),
    Transition(Action.hand_back, Status.reviewed, Status.issued, "pharmacy", label="退回处方"),
    Transition(Action.verify, Status.routed, Status.verified, "pharmacy", label="实名核验"),
    # 审方: a named pharmacist approves (then it may be dispensed) or refuses it back to the physician.
    Transition(Action.review, Status.verified, Status.reviewed, "pharmacist", label="审方通过"),
    Transition(Action.refuse_review, Status.verified, Status.issued, "pharmacist", needs_reason=True,
               label="审方不通过", reason_codes=tuple(REVIEW_REFUSALS)),
    Transition(Action.dispense, Status.reviewed, Status.dispensed, "pharmacy", label="发药"),
    Transition(Action.settle, Status.dispensed, Status.settled, "pharmacy", label="结算"),
    Transition(Action.reverse, Status.settled, Status.dispensed, "pharmacy", needs_reason=True, label="冲正"),
    *(Transition(Action.cancel, s, Status.cancelled, "physician", needs_reason=True, label="作废")
      for s in (Status.issued, Status.routed, Status.verified, Status.reviewed)),
    *(Transition(Action.expire, s, Status.expired, "system")
      for s in (Status.issued, Status.routed, Status.verified, Status.reviewed)),
)

LIVE = frozenset({Status.issued, Status.routed, Status.verified, Status.reviewed})


def sources(action: Action) -> tuple[Status, ...]:
    """The states from which `action` is allowed."""
    return tuple(t.source for t in TRANSITIONS if t.action is action)


def transition(action: Action, source: Status) -> Transition | None:
    """The transition for `action` from `source`, or None when not allowed."""
    return next((t for t in TRANSITIONS if t.action is action and t.source is source), None)


def actions_from(source: Status) -> list[Transition]:
    """What can be done next from `source` (for the pages' buttons)."""
    return [t for t in TRANSITIONS if t.source is source and t.by != "system"]


def valid_until(issued_at: datetime, valid_days: int) -> datetime:
    """End of validity: valid on the day issued, extendable to at most 3 days (处方管理办法 §18).

    The returned instant is exclusive: midnight (China time) after the last valid day.
    """
    issued_day: date = issued_at.astimezone(clock.CHINA).date()
    return clock.start_of_day(issued_day + timedelta(days=valid_days))


SIGNED_FORMAT = "dualchannel.prescription/1"
REVIEW_FORMAT = "dualchannel.review/1"


def signed_content(prescription, patient, items) -> dict:
    """What the physician signs at issue: the prescription's content, in canonical form
    (`signatures.crypto.canonical`). The patient appears as their id, keyed ID-number hash,
    name and region: never an ID number. Items in the order issued."""
    return {
        "format": SIGNED_FORMAT,
        "number": prescription.number,
        "patient": {"id": patient.id, "id_hash": patient.id_hash, "name": patient.name,
                    "region": prescription.patient_region},
        "physician_code": prescription.physician_code,
        "institution_code": prescription.institution_code,
        "diagnosis": prescription.diagnosis,
        "issued_at": instant(prescription.issued_at),
        "valid_until": instant(prescription.valid_until),
        "items": [{"drug_code": i.drug_code, "quantity": i.quantity, "days_supply": i.days_supply,
                   "dosage": i.dosage} for i in items],
    }


def review_content(*, number: str, content_digest: str, licence_number: str, pharmacy_code: str, outcome: str,
                   reason_code: str | None, note: str | None, at: datetime) -> dict:
    """What a pharmacist signs at review: the prescription (its number and the digest of its
    signed content), who, where, the outcome and when."""
    return {"format": REVIEW_FORMAT, "prescription": {"number": number, "digest": content_digest},
            "pharmacist": licence_number, "pharmacy_code": pharmacy_code, "outcome": outcome,
            "reason_code": reason_code, "note": note, "reviewed_at": instant(at)}
