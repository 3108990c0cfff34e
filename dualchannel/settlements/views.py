from dualchannel import db
from dualchannel.api import blueprint, csv_response
from dualchannel.auth import current_actor
from dualchannel.idempotency import PARAMETER as IDEMPOTENCY_KEY
from dualchannel.idempotency import idempotent
from dualchannel.settlements import schemas, services

bp = blueprint("settlements", __name__,
               "One-stop settlement: policies, settlements, manual claims, reversal, reconciliation")


@bp.post("/prescriptions/<int:prescription_id>/settlement")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.SettleIn)
@bp.response(201, schemas.SettlementOut)
def settle(body, prescription_id):
    """The routed pharmacy settles a dispensed prescription (direct, or a manual claim)."""
    return services.settle_prescription(db.session(), current_actor(), prescription_id, **body)


@bp.get("/settlements")
@bp.arguments(schemas.SettlementQuery, location="query")
@bp.response(200, schemas.SettlementPage)
def list_settlements(args):
    """Settlements visible to the caller, newest first."""
    return services.list_settlements(db.session(), current_actor(), **args)


@bp.get("/settlements/<int:settlement_id>")
@bp.response(200, schemas.SettlementOut)
def get_settlement(settlement_id):
    """A settlement with each line's split and its history."""
    return services.get(db.session(), current_actor(), settlement_id)


@bp.post("/settlements/<int:settlement_id>/reverse")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.SettlementReasonIn)
@bp.response(200, schemas.SettlementOut)
def reverse(body, settlement_id):
    """Reverse a settlement (or withdraw a claim); the prescription returns to dispensed."""
    return services.reverse(db.session(), current_actor(), settlement_id, **body)


@bp.post("/settlements/<int:settlement_id>/approve")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.ClaimDecisionIn)
@bp.response(200, schemas.SettlementOut)
def approve(body, settlement_id):
    """A bureau approves a pending manual reimbursement claim."""
    return services.approve(db.session(), current_actor(), settlement_id, **body)


@bp.post("/settlements/<int:settlement_id>/reject")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.SettlementReasonIn)
@bp.response(200, schemas.SettlementOut)
def reject(body, settlement_id):
    """A bureau rejects a pending manual reimbursement claim."""
    return services.reject(db.session(), current_actor(), settlement_id, **body)


@bp.get("/patients/<int:patient_id>/accumulators")
@bp.arguments(schemas.AccumulatorsQuery, location="query")
@bp.response(200, schemas.AccumulatorsOut)
def accumulators(args, patient_id):
    """A patient's yearly totals: deductible used, funds paid (bureau of the patient's region)."""
    return services.patient_accumulators(db.session(), current_actor(), patient_id, **args)


@bp.get("/settlements/reconciliation")
@bp.arguments(schemas.ReconciliationQuery, location="query")
@bp.response(200, schemas.ReconciliationOut)
def reconciliation(args):
    """Counts and totals by fund per pharmacy for a day or a month, with the lines check."""
    return services.reconciliation(db.session(), current_actor(), **args)


@bp.get("/settlements/reconciliation.csv")
@bp.arguments(schemas.ReconciliationQuery, location="query")
@bp.doc(responses={"200": {"description": "The reconciliation rows as CSV",
                           "content": {"text/csv": {"schema": {"type": "string"}}}}})
def reconciliation_csv(args):
    """The same reconciliation as CSV."""
    report = services.reconciliation(db.session(), current_actor(), **args)
    row = schemas.ReconciliationRow()
    return csv_response(row.dump(report.rows, many=True), list(row.fields), f"reconciliation-{report.label}.csv")


@bp.get("/settlement-policies")
@bp.arguments(schemas.SettlementPolicyQuery, location="query")
@bp.response(200, schemas.SettlementPolicyPage)
def list_policies(args):
    """Settlement policy versions (bureau inside its region, admin)."""
    return services.list_policies(db.session(), current_actor(), **args)


@bp.post("/settlement-policies")
@bp.arguments(schemas.SettlementPolicyIn)
@bp.response(201, schemas.SettlementPolicyOut)
def add_policy(body):
    """Add a policy version from its effective date (bureau inside its region, admin)."""
    return services.add_policy(db.session(), current_actor(), **body)


@bp.get("/settlement-policies/<int:policy_id>")
@bp.response(200, schemas.SettlementPolicyOut)
def get_policy(policy_id):
    return services.get_policy(db.session(), current_actor(), policy_id)
