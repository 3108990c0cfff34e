from dualchannel import db
from dualchannel.api import blueprint
from dualchannel.auth import current_actor
from dualchannel.timeline import schemas, services

bp = blueprint("timeline", __name__, "A patient's timeline across pharmacies (the PDMP lookup)")


@bp.get("/patients/<int:patient_id>/timeline")
@bp.response(200, schemas.TimelineOut)
def timeline(patient_id):
    """Every prescription, dispensing (with supply-day bars), return and settlement of the patient
    across pharmacies, oldest first (admin; the bureau of the patient's region; a physician with
    the patient in care). The read is recorded in the access log."""
    return services.timeline(db.session(), current_actor(), patient_id)
