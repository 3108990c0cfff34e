from dualchannel import db
from dualchannel.api import blueprint
from dualchannel.auth import current_actor
from dualchannel.patients import schemas, services

bp = blueprint("patients", __name__, "Insured patients and eligibility")


@bp.post("/patients")
@bp.arguments(schemas.PatientIn)
@bp.response(201, schemas.PatientOut)
def create_patient(body):
    """Register a patient; the ID number is validated and never returned in full."""
    return services.create_patient(db.session(), current_actor(), **body)


@bp.post("/patients/search")
@bp.arguments(schemas.PatientSearch)
@bp.response(200, schemas.PatientOut)
def find_patient(body):
    """Find a patient by ID number and name (in the body, never in a URL); a physician's search
    that finds the patient puts them in care at the physician's institution. Rate limited."""
    return services.search_patient(db.session(), current_actor(), body["id_number"], body["name"])


@bp.get("/patients/<int:patient_id>")
@bp.response(200, schemas.PatientOut)
def get_patient(patient_id):
    """A patient's record (the read is recorded in the access log)."""
    return services.read_patient(db.session(), current_actor(), patient_id)


@bp.post("/patients/<int:patient_id>/reveal")
@bp.arguments(schemas.RevealIn)
@bp.response(200, schemas.RevealOut)
def reveal_id_number(body, patient_id):
    """The full ID number, for an admin or bureau giving a reason; recorded (who, when, why, what). Rate limited."""
    return services.reveal_id_number(db.session(), current_actor(), patient_id, **body)


@bp.post("/patients/<int:patient_id>/eligibility")
@bp.arguments(schemas.EligibilityIn)
@bp.response(201, schemas.EligibilityOut)
def record_eligibility(body, patient_id):
    """A responsible physician records or renews (复查评估) eligibility for a drug."""
    return services.record_eligibility(db.session(), current_actor(), patient_id=patient_id, **body)


@bp.get("/patients/<int:patient_id>/eligibility")
@bp.response(200, schemas.EligibilityList)
def list_eligibilities(patient_id):
    return {"items": services.list_eligibilities(db.session(), current_actor(), patient_id)}


@bp.get("/physician/re-examinations")
@bp.arguments(schemas.ReExaminationQuery, location="query")
@bp.response(200, schemas.ReExaminationPage)
def re_examinations(args):
    """Eligibilities at the caller's institution ending within `within_days` or recently ended (复查评估 due)."""
    return services.re_examinations(db.session(), current_actor(), **args)
