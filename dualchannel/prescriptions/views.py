from flask import Response

from dualchannel import db
from dualchannel.api import blueprint
from dualchannel.access_log.schemas import AccessPage
from dualchannel.auth import current_actor
from dualchannel.idempotency import PARAMETER as IDEMPOTENCY_KEY
from dualchannel.idempotency import idempotent
from dualchannel.prescriptions import rules, schemas, services, slip

bp = blueprint("prescriptions", __name__, "Dual-channel e-prescriptions: issue, route, verify, dispense")


@bp.post("/prescriptions")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.PrescriptionIn)
@bp.response(201, schemas.PrescriptionOut)
def issue(body):
    """A responsible physician issues an e-prescription."""
    return services.issue(db.session(), current_actor(), **body)


@bp.get("/prescriptions")
@bp.arguments(schemas.ListQuery, location="query")
@bp.response(200, schemas.PrescriptionPage)
def list_prescriptions(args):
    """Prescriptions visible to the caller, newest first."""
    return services.list_prescriptions(db.session(), current_actor(), **args)


@bp.get("/prescriptions/<int:prescription_id>")
@bp.response(200, schemas.PrescriptionOut)
def get_prescription(prescription_id):
    """A prescription with its items and full history."""
    return services.get(db.session(), current_actor(), prescription_id)


@bp.get("/prescriptions/<int:prescription_id>/qr.svg")
@bp.response(200, {"type": "string"}, content_type="image/svg+xml", description="QR code of the prescription number")
def prescription_qr(prescription_id):
    """The prescription number (处方编号) as a QR code for the patient's slip (a read, logged)."""
    found = services.get(db.session(), current_actor(), prescription_id)
    number = found.prescription.number or str(found.prescription.id)
    return Response(slip.qr_svg(number), mimetype="image/svg+xml")


@bp.get("/prescriptions/<int:prescription_id>/tracker")
@bp.response(200, schemas.TrackerOut)
def tracker(prescription_id):
    """Where it is now, who holds it, what happens next and by when, with its timed history and reasons."""
    return services.tracker(db.session(), current_actor(), prescription_id)


@bp.get("/prescriptions/<int:prescription_id>/access-log")
@bp.arguments(schemas.ListArgs, location="query")
@bp.response(200, AccessPage)
def access_log(args, prescription_id):
    """Who read this prescription and its packs (and revealed its agent's ID), newest first (admin, bureau)."""
    return services.access_log(db.session(), current_actor(), prescription_id, **args)


@bp.post("/prescriptions/<int:prescription_id>/pickup/reveal")
@bp.arguments(schemas.ReasonIn)
@bp.response(200, schemas.PickupRevealOut)
def reveal_pickup(body, prescription_id):
    """The picking-up agent's full ID number, for an admin or bureau giving a reason (recorded)."""
    return services.reveal_pickup(db.session(), current_actor(), prescription_id, **body)


@bp.get("/prescriptions/<int:prescription_id>/pharmacy-options")
@bp.arguments(schemas.OptionsQuery, location="query")
@bp.response(200, schemas.OptionList)
def pharmacy_options(args, prescription_id):
    """Active pharmacies able to fill it, nearest first with `distance_km`."""
    return {"items": services.pharmacy_options(db.session(), current_actor(), prescription_id, **args)}


@bp.post("/prescriptions/<int:prescription_id>/route")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.RouteIn)
@bp.response(200, schemas.PrescriptionOut)
def route(body, prescription_id):
    """Route to a dual-channel pharmacy of the patient's region."""
    return services.route(db.session(), current_actor(), prescription_id, **body)


@bp.post("/prescriptions/<int:prescription_id>/return")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.ReasonCodeIn)
@bp.response(200, schemas.PrescriptionOut)
def hand_back(body, prescription_id):
    """The routed pharmacy hands the prescription back, with a reason code (and a note)."""
    return services.hand_back(db.session(), current_actor(), prescription_id, **body)


@bp.post("/prescriptions/<int:prescription_id>/verify")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.VerifyIn)
@bp.response(200, schemas.PrescriptionOut)
def verify(body, prescription_id):
    """Real-name verification of the patient (and the agent picking up)."""
    return services.verify(db.session(), current_actor(), prescription_id, **body)


@bp.post("/prescriptions/<int:prescription_id>/review")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.PrescriptionReviewIn)
@bp.response(200, schemas.PrescriptionOut)
def review(body, prescription_id):
    """A pharmacist's review (审方) of a verified prescription, signed: approved, or refused with a reason code."""
    return services.review(db.session(), current_actor(), prescription_id, **body)


@bp.get("/prescriptions/<int:prescription_id>/signature")
@bp.response(200, schemas.SignatureOut)
def signature(prescription_id):
    """The prescription's signature (and its reviews'), with the signed bytes and whether they verify now."""
    return services.signature(db.session(), current_actor(), prescription_id)


@bp.post("/prescriptions/<int:prescription_id>/dispense")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.DispenseIn)
@bp.response(200, schemas.PrescriptionOut)
def dispense(body, prescription_id):
    """Dispense with one traceability code per unit."""
    return services.dispense(db.session(), current_actor(), prescription_id, **body)


@bp.post("/prescriptions/<int:prescription_id>/cancel")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.ReasonCodeIn)
@bp.response(200, schemas.PrescriptionOut)
def cancel(body, prescription_id):
    """Its physician cancels it before dispensing, with a reason code (and a note)."""
    return services.cancel(db.session(), current_actor(), prescription_id, **body)


@bp.post("/prescriptions/<int:prescription_id>/not-dispensed")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.ReasonCodeIn)
@bp.response(200, schemas.PrescriptionOut)
def not_dispensed(body, prescription_id):
    """The routed pharmacy closes it without dispensing, with a reason code (and a note)."""
    return services.not_dispense(db.session(), current_actor(), prescription_id, **body)


@bp.get("/reason-codes")
@bp.response(200, schemas.ReasonCodeList)
def reason_codes():
    """The published reason codes: code, zh-CN label, the actions that accept each."""
    return {"items": rules.reason_codes()}


@bp.get("/pharmacy/prescriptions")
@bp.arguments(schemas.WorklistQuery, location="query")
@bp.response(200, schemas.WorklistPage)
def pharmacy_worklist(args):
    """The calling pharmacy's prescriptions with patient (masked), drugs and validity; by status,
    patient ID number or prescription number; closed ones with the reason."""
    return services.pharmacy_worklist(db.session(), current_actor(), **args)


@bp.get("/pharmacy/inbox")
@bp.arguments(schemas.ListArgs, location="query")
@bp.response(200, schemas.PrescriptionPage)
def inbox(args):
    """Prescriptions routed to the calling pharmacy."""
    return services.inbox(db.session(), current_actor(), **args)
