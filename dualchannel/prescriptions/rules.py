"""Pure prescription policy: the state machine, the 处方管理办法 limits and the signed content.
No database here."""

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dualchannel import clock
from dualchannel.errors import FieldMessage
from dualchannel.transitions import Move, table
from dualchannel.signatures.crypto import instant


class Status(enum.StrEnum):
    issued = "issued"
    routed = "routed"
    verified = "verified"
    reviewed = "reviewed"  # a pharmacist approved it (审方通过)
    dispensed = "dispensed"
    settled = "settled"
    cancelled = "cancelled"
    expired = "expired"
    # The routed pharmacy closed it without dispensing (patient declined, clinically unsuitable,
    # out of stock, ...), with a reason code: NHS EPS's "not dispensed".
    not_dispensed = "not_dispensed"


class Action(enum.StrEnum):
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
    not_dispense = "not_dispense"


@dataclass(frozen=True)
class Reason:
    """A published reason code (after NHS EPS's return, cancellation and not-dispensed reasons):
    a stable code for systems and reports, a zh-CN label for people. `needs_note`: the code
    says too little alone ("other"), so a note must explain it."""

    code: str
    label: str
    needs_note: bool = False


# Every reason code any transition accepts. An action that takes codes (here or added later,
# e.g. a pharmacist's review refusing a prescription) lists its codes on its transitions below
# and defines the new ones here: `GET /api/v1/reason-codes` publishes this one list.
REASONS: dict[str, Reason] = {r.code: r for r in (
    # Handing back to the physician (退回): the prescription is freed for another pharmacy.
    Reason("patient_request_release", "患者要求改到其他药店取药"),
    Reason("out_of_stock", "药品缺货，无法按时供药"),
    Reason("storage_unavailable", "不具备该药品的贮存条件（如冷链）"),
    Reason("prescription_error", "处方信息有误，请医师核对"),
    # Cancelling (作废) by the prescribing physician.
    Reason("prescribing_error", "开具错误"),
    Reason("clinical_contraindication", "存在临床禁忌"),
    Reason("treatment_changed", "治疗方案调整"),
    Reason("patient_request", "患者要求作废"),
    Reason("pharmacist_request", "药师建议作废"),
    Reason("patient_deceased", "患者已死亡"),
    # Closing without dispensing (未发药结束) at the routed pharmacy.
    Reason("patient_declined", "患者拒绝取药或不再需要"),
    Reason("clinically_unsuitable", "经药师审核临床不适宜"),
    Reason("identity_not_verified", "无法完成实名核验"),
    Reason("already_dispensed_elsewhere", "患者已在其他渠道取得该药品"),
    # A pharmacist refusing a prescription at review (审方不通过), after 医疗机构处方审核规范
    # (国卫办医发〔2018〕14号); it goes back to the physician.
    Reason("irregular", "不规范处方"),
    Reason("indication", "适应证不适宜"),
    Reason("drug_choice", "遴选的药品不适宜"),
    Reason("dosage", "用法、用量不适宜"),
    Reason("form_or_route", "剂型或给药途径不适宜"),
    Reason("duplicate_therapy", "重复给药"),
    Reason("interaction", "有配伍禁忌或不良相互作用"),
    Reason("contraindication", "有用药禁忌"),
    Reason("other", "其他原因", needs_note=True),
)}

RETURN_REASONS = ("patient_request_release", "out_of_stock", "storage_unavailable", "prescription_error", "other")
CANCEL_REASONS = ("prescribing_error", "clinical_contraindication", "treatment_changed", "patient_request",
                  "pharmacist_request", "patient_deceased", "other")
NOT_DISPENSED_REASONS = ("patient_declined", "clinically_unsuitable", "out_of_stock", "identity_not_verified",
                         "already_dispensed_elsewhere", "other")
REVIEW_REFUSALS = ("irregular", "indication", "drug_choice", "dosage", "form_or_route", "duplicate_therapy",
                   "interaction", "contraindication", "other")


# Live: not yet dispensed nor ended (it may still expire or be cancelled).
LIVE = frozenset({Status.issued, Status.routed, Status.verified, Status.reviewed})
_AT_PHARMACY = frozenset({Status.routed, Status.verified, Status.reviewed})
# The one table of allowed moves: services' conditional UPDATEs and the pages' buttons read it.
TRANSITIONS: Mapping[str, Move] = table(
    Move(Action.route, frozenset({Status.issued}), Status.routed, by="physician", label="流转至药店"),
    Move(Action.hand_back, _AT_PHARMACY, Status.issued, by="pharmacy", label="退回处方", reasons=RETURN_REASONS),
    Move(Action.verify, frozenset({Status.routed}), Status.verified, by="pharmacy", label="实名核验"),
    # 审方: a named pharmacist approves (then it may be dispensed) or refuses it back to the physician.
    Move(Action.review, frozenset({Status.verified}), Status.reviewed, by="pharmacist", label="审方通过"),
    Move(Action.refuse_review, frozenset({Status.verified}), Status.issued, by="pharmacist", label="审方不通过",
         reasons=REVIEW_REFUSALS),
    Move(Action.dispense, frozenset({Status.reviewed}), Status.dispensed, by="pharmacy", label="发药"),
    Move(Action.settle, frozenset({Status.dispensed}), Status.settled, by="pharmacy", label="结算"),
    Move(Action.reverse, frozenset({Status.settled}), Status.dispensed, by="pharmacy", needs_reason=True,
         label="冲正"),
    Move(Action.cancel, LIVE, Status.cancelled, by="physician", label="作废", reasons=CANCEL_REASONS),
    Move(Action.not_dispense, _AT_PHARMACY, Status.not_dispensed, by="pharmacy", label="未发药结束",
         reasons=NOT_DISPENSED_REASONS),
    Move(Action.expire, LIVE, Status.expired, by="system"),
)

# Where a prescription ends: nothing moves it any more (a settlement's reversal moves a settled
# one back, so settled is not final).
FINAL = frozenset({Status.cancelled, Status.expired, Status.not_dispensed})
# "Returned": an issued prescription a pharmacy handed back (the physician routes it again).
# Not a status of its own: an issued prescription with a `return` event in its history.
RETURNED = "returned"


def sources(action: Action) -> frozenset[Status]:
    """The states from which `action` is allowed."""
    return TRANSITIONS[action].sources


def transition(action: Action, source: Status) -> Move | None:
    """The move `action` makes from `source`, or None when not allowed."""
    move = TRANSITIONS[action]
    return move if move.allows(source) else None


def actions_from(source: Status) -> list[Move]:
    """What can be done next from `source` (for the pages' buttons)."""
    return [m for m in TRANSITIONS.values() if m.allows(source) and m.by != "system"]


def reason_codes() -> list[dict]:
    """The published list: each code with its label and the actions that accept it."""
    accepted: dict[str, set[str]] = {}
    for t in TRANSITIONS.values():
        for code in t.reasons:
            accepted.setdefault(code, set()).add(t.action.value)
    return [{"code": r.code, "label": r.label, "needs_note": r.needs_note, "actions": sorted(accepted[r.code])}
            for r in REASONS.values() if r.code in accepted]


def reasons_of(action: Action) -> tuple[str, ...]:
    """The reason codes `action` accepts (empty: it takes none)."""
    return TRANSITIONS[action].reasons


def check_reason(action: Action, reason_code: str | None, note: str | None) -> dict[str, list[str]]:
    """What is wrong with a reason given for `action`, by field (empty when it is acceptable):
    a code from the action's list is required, and a code needing a note needs one."""
    accepted = reasons_of(action)
    if reason_code is None:
        return {"reason_code": [FieldMessage("reason_code_required", f"Required: one of {', '.join(accepted)}.",
                                             action=action.value)]}
    if reason_code not in accepted:
        return {"reason_code": [FieldMessage("reason_code_not_for_action",
                                             f"Not a reason code for {action.value}: one of {', '.join(accepted)}.",
                                             action=action.value)]}
    if REASONS[reason_code].needs_note and not note:
        return {"note": [FieldMessage("reason_note_required",
                                      f"Reason {reason_code} needs a note saying what happened.",
                                      reason_code=reason_code)]}
    return {}


def phase(status: str, returned: bool) -> str:
    """Where a prescription stands for a reader: its status, or RETURNED for an issued one
    that a pharmacy handed back."""
    return RETURNED if status == Status.issued.value and returned else status


@dataclass(frozen=True)
class Stage:
    """Where a prescription is, for its tracker: who holds it and what happens next (zh-CN)."""

    label: str
    holder: str | None  # "physician", "pharmacy", or None once it has ended
    next_step: str
    timed: bool  # the next step must happen before `valid_until`


STAGES: dict[str, Stage] = {
    Status.issued.value: Stage("已开具", "physician", "待医师选择药店流转", True),
    RETURNED: Stage("药店已退回", "physician", "待医师重新流转至药店或作废", True),
    Status.routed.value: Stage("已流转", "pharmacy", "待患者到店，药店实名核验后发药", True),
    Status.verified.value: Stage("已核验", "pharmacy", "待药师审方", True),
    Status.reviewed.value: Stage("已审方", "pharmacy", "待药店扫码发药", True),
    Status.dispensed.value: Stage("已发药", "pharmacy", "待药店医保结算", False),
    Status.settled.value: Stage("已结算", "pharmacy", "流程结束（冲正后可重新结算）", False),
    Status.cancelled.value: Stage("已作废", None, "流程结束", False),
    Status.expired.value: Stage("已过期", None, "流程结束：须重新开具处方", False),
    Status.not_dispensed.value: Stage("未发药结束", None, "流程结束：须重新开具处方", False),
}


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


# What a pharmacy's worklist `status` filter selects besides a plain status. `open`: waiting at
# the pharmacy (routed, verified, reviewed) and still valid; `closed`: ended without a sale
# (expired, cancelled, not dispensed) or handed back by this pharmacy; `returned`: handed back.
WORKLIST_FILTERS = ("open", "closed", RETURNED)


def mask_name(name: str | None) -> str | None:
    """A patient's name as a list shows it: the family name, the rest starred (张*, 孔**)."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)
