"""The pages as the server sends them: HTML shells in zh-CN with a strict Content-Security-Policy,
whose every asset is served from static/ and nothing refers to another host."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "static" / "pages"
TEMPLATES = ROOT / "dualchannel" / "pages" / "templates"
PAGES = ["login", "physician", "pharmacy", "bureau", "institution", "pharmacies"]
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def test_root_goes_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


@pytest.mark.parametrize("page", PAGES)
def test_page_is_a_chinese_shell_with_a_strict_policy(client, app, page):
    response = client.get(f"/{page}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and '<meta charset="utf-8">' in html
    assert f'<script type="module" src="/static/pages/js/{page}.js"></script>' in html
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "unsafe" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Every asset the shell names is served.
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        with client.get(asset) as served:
            assert served.status_code == 200, asset
    # No inline script or style: the policy would block them.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "<style" not in html


def test_assets_refer_to_no_other_host():
    files = [p for p in [*ASSETS.rglob("*"), *TEMPLATES.rglob("*")] if p.is_file()]
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8").replace(SVG_NAMESPACE, "")
        assert not re.search(r"https?://|wss?://|(?:src|href)=[\"']//|url\(\s*[\"']?//|@import", text), path


def test_every_module_import_resolves():
    for module in (ASSETS / "js").glob("*.js"):
        for target in re.findall(r'^\s*(?:import|export)[^"\']*from\s+["\'](\.[^"\']+)["\']', module.read_text(),
                                 re.MULTILINE):
            assert (module.parent / target).is_file(), (module.name, target)


def test_unknown_page_is_a_problem(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
