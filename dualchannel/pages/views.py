"""HTML shells of the pages. They carry no data and need no token: their scripts ask the API."""

from flask import Blueprint, current_app, redirect, render_template, url_for

bp = Blueprint("pages", __name__, template_folder="templates")

# Hospital and bureau networks are closed: a page loads nothing from anywhere else, and the
# browser enforces it. Styles come only from files or the CSSOM, never from inline attributes.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'",
])


@bp.after_request
def _headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _render(page: str, heading: str):
    config = current_app.config
    return render_template(f"pages/{page}.html", page=page, heading=heading,
                           max_days_supply=config["MAX_DAYS_SUPPLY"], max_valid_days=config["MAX_VALID_DAYS"],
                           trace_undo_days=config["TRACE_UNDO_DAYS"])


@bp.get("/")
def index():
    return redirect(url_for("pages.login"))


@bp.get("/pharmacies")
def pharmacies():
    """The public list of dual-channel pharmacies (seed 003: 及时向社会公布); no sign-in."""
    return _render("pharmacies", "双通道药店名单")


@bp.get("/login")
def login():
    """Sign in with a bearer token; the page then goes to the role's own page."""
    return _render("login", "登录")


@bp.get("/physician")
def physician():
    """Find a patient, eligibility and re-examinations, issue and route prescriptions."""
    return _render("physician", "医师工作台")


@bp.get("/pharmacy")
def pharmacy():
    """Inbox, real-name verification, scanning trace codes, dispensing, settlement."""
    return _render("pharmacy", "药店工作台")


@bp.get("/bureau")
def bureau():
    """Coverage map, admission and exit of pharmacies, audit flags."""
    return _render("bureau", "医保局工作台")


@bp.get("/institution")
def institution():
    """Procurement (集采) at a designated institution: demand declarations and supply problems."""
    return _render("institution", "医疗机构集采工作台")
