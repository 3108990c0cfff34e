"""Browser tests: the pages in Debian's headless Chromium, driven by Playwright, against the
app served by a real HTTP server in a thread, on a fresh SQLite database with the demo data.

One browser for the whole session; each test opens its own pages (sessionStorage, where the
pages keep the token, is per tab). Every request the browser makes is recorded, and each test
ends by checking that none went anywhere but the service.
"""

import threading
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from dualchannel import create_app, db, demo, migrate
from tests.conftest import KEYS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}


class _QuietHandler(WSGIRequestHandler):
    def log(self, *args, **kwargs):  # the test output is not an access log
        pass


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """The app with the Jining demo data, served at http://127.0.0.1:<free port>."""
    if not CHROMIUM.exists():
        pytest.skip(f"No Chromium at {CHROMIUM}: run bin/browser-setup (apt-get install chromium fonts-wqy-microhei)")
    folder = tmp_path_factory.mktemp("live")
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder / 'live.sqlite'}", **KEYS})
    app.instance_path = str(folder / "instance")
    with app.app_context():
        migrate.upgrade(db.engine())
        with db.new_session() as session:
            tokens = {role: token for role, (_subject, token) in demo.load(session).items()}
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield SimpleNamespace(app=app, url=f"http://127.0.0.1:{server.server_port}", tokens=tokens)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions[db._ENGINE].dispose()


@pytest.fixture(scope="session")
def browser(live, tmp_path_factory):
    """One headless Chromium for the session, with a fresh profile, at 1366×768 in zh-CN."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
        args=CHROMIUM_ARGS, viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield SimpleNamespace(context=context, requests=requests)
    context.close()
    playwright.stop()


@pytest.fixture
def pages(browser, live):
    """Open pages for one test; afterwards, every request must have gone to the service only."""
    opened = []
    script_errors: list[str] = []
    start = len(browser.requests)

    def new_page():
        page = browser.context.new_page()
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        # Chromium logs every 4xx answer as a console error; the pages expect some of those.
        page.on("console", lambda m: script_errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        opened.append(page)
        return page

    yield SimpleNamespace(new=new_page)
    for page in opened:
        page.close()
    assert script_errors == [], f"errors in the pages' scripts: {script_errors}"
    made = browser.requests[start:]
    assert made, "the browser made no request at all"
    service = urlsplit(live.url).netloc
    foreign = [url for url in made if not url.startswith(("data:", "blob:")) and urlsplit(url).netloc != service]
    assert foreign == [], f"requests to other hosts: {foreign}"


def sign_in(page, live, role: str, *, expect: str | None = None):
    """Sign in through the login page with the demo token of `role`; wait until the landing page
    has started (its first lists drawn: a click before then can land on a moving button)."""
    page.goto(f"{live.url}/login")
    page.get_by_label("访问令牌", exact=True).fill(live.tokens[role])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live.url}{expect or '/' + role}")
    page.locator("#who").filter(has_not_text="正在验证").wait_for()
    started(page)


def started(page):
    """Wait for a signed-in page to finish starting: <main> stops being aria-busy."""
    page.locator("main:not([aria-busy])").wait_for()


def screenshot(page, name: str, *, full_page: bool = True):
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def pytest_collection_modifyitems(items):
    """The browser tests share one live server and its demo data, and some build on what an
    earlier one left (a declaration accepted, a pack dispensed): under xdist they all run in one
    worker, in file order (bin/test distributes with --dist loadgroup)."""
    for item in items:
        if item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.xdist_group("browser"))
