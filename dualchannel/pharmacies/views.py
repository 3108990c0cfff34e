from dualchannel import db
from dualchannel.api import blueprint
from dualchannel.auth import current_actor
from dualchannel.pharmacies import schemas, services

bp = blueprint("pharmacies", __name__, "Dual-channel pharmacies")


@bp.post("/pharmacies")
@bp.arguments(schemas.PharmacyIn)
@bp.response(201, schemas.PharmacyOut)
def create_pharmacy(body):
    """Register an applying pharmacy; its county is computed from its location."""
    return services.create_pharmacy(db.session(), current_actor(), **body)


@bp.get("/pharmacies")
@bp.arguments(schemas.PharmacyQuery, location="query")
@bp.response(200, schemas.PharmacyList)
def list_pharmacies(args):
    return {"items": services.list_pharmacies(db.session(), current_actor(), **args)}


@bp.get("/pharmacies/<code>")
@bp.response(200, schemas.PharmacyOut)
def get_pharmacy(code):
    return services.get_pharmacy(db.session(), current_actor(), code)


@bp.get("/pharmacies/<code>/history")
@bp.response(200, schemas.PharmacyHistory)
def pharmacy_history(code):
    return {"items": services.history(db.session(), current_actor(), code)}


@bp.patch("/pharmacies/<code>")
@bp.arguments(schemas.CapabilitiesIn)
@bp.response(200, schemas.PharmacyOut)
def update_capabilities(body, code):
    """Record a pharmacy's electronic traceability or cold chain (bureau of its region), with a reason."""
    return services.update_capabilities(db.session(), current_actor(), code, **body)


def _status_view(action):
    @bp.arguments(schemas.StatusChangeIn)
    @bp.response(200, schemas.PharmacyOut)
    def view(body, code):
        return services.change_status(db.session(), current_actor(), code, action, **body)

    view.__name__ = f"{action}_pharmacy"
    view.__doc__ = f"{action.capitalize()} a pharmacy (bureau of its region)."
    bp.post(f"/pharmacies/<code>/{action}")(view)


for _action in ("admit", "suspend", "exit"):
    _status_view(_action)


@bp.put("/pharmacies/<code>/stock")
@bp.arguments(schemas.StockSchema)
@bp.response(200, schemas.StockSchema)
def set_stock(body, code):
    """Set stock levels: `{"<drug_code>": quantity}` (the pharmacy itself)."""
    return services.set_stock(db.session(), current_actor(), code, body)


@bp.get("/pharmacies/<code>/stock")
@bp.response(200, schemas.StockSchema)
def get_stock(code):
    session = db.session()
    pharmacy = services.get_pharmacy(session, current_actor(), code)
    return services.stock_of(session, pharmacy.code)


@bp.post("/pharmacies/<code>/pharmacists")
@bp.arguments(schemas.PharmacistIn)
@bp.response(201, schemas.PharmacistOut)
def add_pharmacist(body, code):
    """Register a licensed pharmacist (执业药师) who reviews prescriptions (bureau of its region)."""
    return services.add_pharmacist(db.session(), current_actor(), code, **body)


@bp.get("/pharmacies/<code>/pharmacists")
@bp.response(200, schemas.PharmacistList)
def list_pharmacists(code):
    """A pharmacy's pharmacists (the pharmacy, a bureau of its region, admin)."""
    return {"items": services.pharmacists(db.session(), current_actor(), code)}
