from dualchannel import db
from dualchannel.api import blueprint, csv_response
from dualchannel.auth import current_actor
from dualchannel.procurement import (batches, declarations, execution, imports, money, purchases, report_schemas,
                                     schemas, supply, volumes, workdays)

bp = blueprint("procurement", __name__, "Volume-based procurement (集采) execution")


# ---------------------------------------------------------------- batches and products

@bp.post("/procurement/batches")
@bp.arguments(schemas.BatchIn)
@bp.response(201, schemas.BatchOut)
def create_batch(body):
    """Publish a batch's result (admin; a bureau for its region)."""
    return batches.create_batch(db.session(), current_actor(), **body)


@bp.get("/procurement/batches")
@bp.response(200, schemas.BatchList)
def list_batches():
    """Every batch (published results)."""
    return {"items": batches.list_batches(db.session(), current_actor())}


@bp.get("/procurement/batches/<code>")
@bp.response(200, schemas.BatchOut)
def get_batch(code):
    """A batch with its agreement years."""
    return batches.batch_detail(db.session(), current_actor(), code)


@bp.post("/procurement/batches/<code>/products")
@bp.arguments(schemas.ProductIn)
@bp.response(201, schemas.ProductOut)
def add_product(body, code):
    """Add a product; a selected one sets the payment standard of its generic name."""
    return batches.add_product(db.session(), current_actor(), code, **body)


@bp.get("/procurement/batches/<code>/products")
@bp.response(200, schemas.ProductList)
def list_products(code):
    """A batch's products."""
    return {"items": batches.list_products(db.session(), current_actor(), code)}


@bp.post("/procurement/batches/<code>/products/import")
@bp.arguments(schemas.FileIn, location="files")
@bp.response(201, schemas.ImportOut)
def import_products(files, code):
    """Import a result table (CSV or XLSX, multipart `file`): all rows or none; 422 names each bad row."""
    upload = files["file"]
    return imports.import_products(db.session(), current_actor(), code, filename=upload.filename or "",
                                    data=upload.read())


@bp.get("/procurement/products/<code>")
@bp.response(200, schemas.ProductOut)
def get_product(code):
    """A product by code."""
    return batches.product_detail(db.session(), current_actor(), code)


# ---------------------------------------------------------------- agreed volumes

@bp.put("/procurement/agreed-volumes")
@bp.arguments(schemas.AgreedVolumeIn)
@bp.response(200, schemas.LineOut)
def set_agreed_volume(body):
    """Set an institution's (or a pharmacy's) agreed volume of a product for an agreement year."""
    return volumes.set_agreed_volume(db.session(), current_actor(), **body)


@bp.get("/procurement/agreed-volumes")
@bp.arguments(schemas.LineQuery, location="query")
@bp.response(200, schemas.LinePage)
def list_agreed_volumes(args):
    """Agreed volumes visible to the caller."""
    return volumes.list_lines(db.session(), current_actor(), **args)


@bp.post("/procurement/agreed-volumes/compute")
@bp.arguments(schemas.ComputeIn)
@bp.response(200, schemas.ComputeOut)
def compute_agreed_volumes(body):
    """Agreed volumes from base-year usage × ratio for every institution of the region."""
    return volumes.compute_agreed_volumes(db.session(), current_actor(), **body)


# ---------------------------------------------------------------- purchases

@bp.post("/procurement/purchases")
@bp.arguments(schemas.PurchaseIn)
@bp.response(201, schemas.PurchaseOut)
def record_purchase(body):
    """Record a purchase (the institution itself, its bureau or an admin)."""
    return purchases.record_purchase(db.session(), current_actor(), **body)


@bp.get("/procurement/purchases")
@bp.arguments(schemas.PurchaseQuery, location="query")
@bp.response(200, schemas.PurchasePage)
def list_purchases(args):
    """Purchases visible to the caller (`from`, `to` dates)."""
    return purchases.list_purchases(db.session(), current_actor(), **args)


@bp.post("/procurement/purchases/import")
@bp.arguments(schemas.FileIn, location="files")
@bp.response(201, schemas.ImportOut)
def import_purchases(files):
    """Import purchases (CSV or XLSX, multipart `file`): all rows or none; 422 names each bad row."""
    upload = files["file"]
    return imports.import_purchases(db.session(), current_actor(), filename=upload.filename or "",
                                     data=upload.read())


# ---------------------------------------------------------------- demand declarations

@bp.post("/procurement/declarations")
@bp.arguments(schemas.DeclarationIn)
@bp.response(201, schemas.DeclarationOut)
def declare_demand(body):
    """An institution declares its demand (0 allowed; below its history, explain why)."""
    return declarations.declare_demand(db.session(), current_actor(), **body)


@bp.get("/procurement/declarations")
@bp.arguments(schemas.DeclarationQuery, location="query")
@bp.response(200, schemas.DeclarationPage)
def list_declarations(args):
    """Demand declarations visible to the caller."""
    return declarations.list_declarations(db.session(), current_actor(), **args)


@bp.get("/procurement/declarations/<int:declaration_id>")
@bp.response(200, schemas.DeclarationOut)
def get_declaration(declaration_id):
    """A demand declaration."""
    return declarations.get_declaration(db.session(), current_actor(), declaration_id)


@bp.post("/procurement/declarations/<int:declaration_id>/accept")
@bp.arguments(schemas.AcceptIn)
@bp.response(200, schemas.DeclarationOut)
def accept_declaration(body, declaration_id):
    """The bureau accepts: the agreed volume becomes the declaration × ratio (or `quantity`)."""
    return declarations.accept_declaration(db.session(), current_actor(), declaration_id, **body)


@bp.post("/procurement/declarations/<int:declaration_id>/return")
@bp.arguments(schemas.ReturnIn)
@bp.response(200, schemas.DeclarationOut)
def return_declaration(body, declaration_id):
    """The bureau sends the declaration back for a new one."""
    return declarations.return_declaration(db.session(), current_actor(), declaration_id, **body)


# ---------------------------------------------------------------- monitoring and reports

@bp.get("/procurement/execution")
@bp.arguments(report_schemas.ExecutionQuery, location="query")
@bp.response(200, report_schemas.ExecutionOut)
def execution_report(args):
    """Progress per product × institution × agreement year against the schedule, alerts first."""
    return execution.execution_report(db.session(), current_actor(), **args)


@bp.get("/procurement/reports")
@bp.arguments(report_schemas.ReportQuery, location="query")
@bp.response(200, report_schemas.ReportOut)
def period_report(args):
    """Purchases by month or quarter per product, with cumulative completion and schedule."""
    return execution.period_report(db.session(), current_actor(), **args)


@bp.get("/procurement/reports.csv")
@bp.arguments(report_schemas.ReportQuery, location="query")
@bp.doc(responses={200: {"description": "The same report as CSV.", "content": {"text/csv": {}}}})
def period_report_csv(args):
    """The monthly or quarterly report as CSV (UTF-8 with BOM, so Excel reads the Chinese)."""
    report = execution.period_report(db.session(), current_actor(), **args)
    items = report_schemas.ReportItem(many=True).dump(report["items"])
    name = f"procurement-{report['region'] or 'all'}-{report['period']}-{report['as_of']}.csv"
    return csv_response(items, execution.REPORT_COLUMNS, name)


@bp.get("/procurement/prepayments")
@bp.arguments(report_schemas.MoneyQuery, location="query")
@bp.response(200, report_schemas.PrepaymentOut)
def prepayments(args):
    """The fund's prepayment owed to each institution (≥ 50 % of its agreed purchase amount)."""
    return money.prepayments(db.session(), current_actor(), **args)


@bp.get("/procurement/ledger")
@bp.arguments(report_schemas.MoneyQuery, location="query")
@bp.response(200, report_schemas.LedgerOut)
def ledger(args):
    """What the fund owes each company under direct settlement, by quarter and at year end."""
    return money.ledger(db.session(), current_actor(), **args)


# ---------------------------------------------------------------- supply problems

@bp.post("/procurement/supply-problems")
@bp.arguments(schemas.SupplyProblemIn)
@bp.response(201, schemas.SupplyProblemOut)
def report_supply_problem(body):
    """An institution reports a supply problem of a selected product."""
    return supply.report(db.session(), current_actor(), **body)


@bp.get("/procurement/supply-problems")
@bp.arguments(schemas.SupplyProblemQuery, location="query")
@bp.response(200, schemas.SupplyProblemPage)
def list_supply_problems(args):
    """Supply problems visible to the caller, with their state."""
    return supply.list_problems(db.session(), current_actor(), **args)


@bp.get("/procurement/supply-problems/<int:problem_id>")
@bp.response(200, schemas.SupplyProblemOut)
def get_supply_problem(problem_id):
    """A supply problem with its deadlines and state."""
    return supply.get(db.session(), current_actor(), problem_id)


@bp.post("/procurement/supply-problems/<int:problem_id>/reply")
@bp.arguments(schemas.ReplyIn)
@bp.response(200, schemas.SupplyProblemOut)
def reply_supply_problem(body, problem_id):
    """Record the company's answer and promised fix date (≤ 5 working days)."""
    return supply.record_reply(db.session(), current_actor(), problem_id, **body)


@bp.post("/procurement/supply-problems/<int:problem_id>/resolve")
@bp.arguments(schemas.ResolveIn)
@bp.response(200, schemas.SupplyProblemOut)
def resolve_supply_problem(body, problem_id):
    """The problem is solved; its overdue alerts are resolved."""
    return supply.resolve(db.session(), current_actor(), problem_id, **body)


@bp.post("/procurement/supply-problems/<int:problem_id>/confirm")
@bp.arguments(schemas.ConfirmIn)
@bp.response(200, schemas.SupplyProblemOut)
def confirm_supply_problem(body, problem_id):
    """The bureau confirms the problem: meanwhile non-selected purchases are not assessed."""
    return supply.confirm(db.session(), current_actor(), problem_id, **body)


# ---------------------------------------------------------------- working calendar

@bp.get("/procurement/calendar")
@bp.arguments(schemas.CalendarQuery, location="query")
@bp.response(200, schemas.CalendarOut)
def calendar(args):
    """A year's public holidays and make-up working days (configured defaults and overrides)."""
    return workdays.calendar_of(db.session(), current_actor(), **args)


@bp.put("/procurement/calendar/<day>")
@bp.arguments(schemas.CalendarDayIn)
@bp.response(200, schemas.CalendarDayOut)
def set_calendar_day(body, day):
    """Mark a date (YYYY-MM-DD) as `holiday`, `workday` (调休上班) or `normal` (admin)."""
    return workdays.set_calendar_day(db.session(), current_actor(), day, **body)
