"""HTML shells of the pages. They carry no data and need no token: their scripts ask the API."""

import hashlib
import json
from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, url_for

from dualchannel import problems

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


@bp.get("/timeline")
def timeline():
    """A patient's prescriptions, dispensings with supply bars, returns and settlements across
    pharmacies on a time axis (bureau, physician with the patient in care)."""
    return _render("timeline", "患者用药时间轴")


@bp.get("/institution")
def institution():
    """Procurement (集采) at a designated institution: demand declarations and supply problems."""
    return _render("institution", "医疗机构集采工作台")


def _offline_assets() -> list[str]:
    """What the pharmacy page needs to open without a network: itself, its styles and scripts,
    and the problem codes' texts its scripts import."""
    static = Path(current_app.static_folder)
    files = [static / "pages/css/pages.css", static / "pages/favicon.svg", *sorted((static / "pages/js").glob("*.js"))]
    return ([url_for("pages.pharmacy"), url_for("problem_module")]
            + [url_for("static", filename=str(f.relative_to(static))) for f in files])


@bp.get("/pharmacy-sw.js")
def pharmacy_service_worker():
    """The pharmacy page's service worker, with the list of files it keeps and a version that
    changes with any of them (so a new release replaces the cache)."""
    static = Path(current_app.static_folder)
    assets = _offline_assets()
    digest = hashlib.sha256()
    for path in sorted((static / "pages").rglob("*")):
        if path.is_file() and path.suffix in (".js", ".css", ".svg"):
            digest.update(path.read_bytes())
    for template in sorted((Path(bp.root_path) / "templates/pages").glob("*.html")):  # the page and its includes
        digest.update(template.read_bytes())
    digest.update(problems.module_source().encode())
    source = (static / "pages/pharmacy-sw.js").read_text(encoding="utf-8")
    body = f"const ASSETS = {json.dumps(assets)};\nconst VERSION = \"{digest.hexdigest()[:16]}\";\n{source}"
    response = current_app.response_class(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response
