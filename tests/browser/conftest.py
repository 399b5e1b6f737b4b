"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server,
with an axe-core accessibility scan of each main page and a screenshot of it. A test run saves
the screenshots in a folder of its own (pytest's temporary directory), never in the tracked
docs/screenshots/: `scripts/screenshots` refreshes those, on purpose.

Playwright's own browsers are never downloaded: the tests launch /usr/bin/chromium (installed
by scripts/setup). Without it they are skipped, or fail under CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# KEYSTAGE_CHROMIUM names another browser binary (tests/app/test_test_command.py names a
# missing one, to see the tests fail under CI=true).
CHROMIUM = Path(os.environ.get("KEYSTAGE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Where check_page saves screenshots when KEYSTAGE_SCREENSHOTS names no folder: a folder of the
# run's own. scripts/screenshots sets KEYSTAGE_SCREENSHOTS to the docs' folder, docs/screenshots.
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1200, "height": 900}
PASSWORD = "Correct-Horse-Battery-9"


def _missing(what: str) -> None:
    message = f"{what}: run scripts/setup"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    if not AXE_JS.exists():
        _missing(f"{AXE_JS} is missing (npm ci)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; Django refuses database calls
    # from such a thread unless told otherwise. The tests' own ORM calls are plain synchronous
    # set-up and checks. Module scope, restored afterwards, so no later test (or subprocess it
    # starts) inherits the variable.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    chosen = os.environ.get("KEYSTAGE_SCREENSHOTS")
    return Path(chosen).resolve() if chosen else tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def check_page(axe_scan, screenshot_dir):
    """check_page(page, name): scan the page with axe-core (failing on moderate, serious or
    critical violations, which are printed; the issue asks for no serious or critical one, and
    every page is clean of moderate ones too, so keep it so) and save a full-page screenshot as
    NAME.png in `screenshot_dir` (docs/screenshots only under scripts/screenshots).
    axe is evaluated in Playwright's evaluation context, which the site's CSP does not block
    (a <script> tag would be)."""

    def check(page, name: str) -> None:
        page.wait_for_load_state("load")
        screenshot_dir.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
        axe_scan(page, name)

    return check


@pytest.fixture
def site(transactional_db, live_server, settings, tmp_path):
    """The reference LAs, a small register, dashboard rows (tests/app/collection_data.py) and
    one user per role the journeys need. Tasks run at once, inside the upload request."""
    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.orgs.actions import do_load_reference, do_load_register
    from keystage.orgs.models import LocalAuthority, School
    from keystage.submissions.actions import get_collection
    from tests.app.collection_data import seed
    from tests.builders import write_register

    # The live server runs in a thread of this process, so it sees these settings.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.UPLOAD_STORE = tmp_path / "store"
    settings.DATA_DIR = tmp_path / "data"
    do_load_reference()
    do_load_register(write_register(tmp_path / "schools.csv"))
    collection = get_collection()
    schools = seed(collection)
    la938 = LocalAuthority.objects.get(code="938")
    for name, kw in {
        "admin938": {"role": Role.LA_ADMIN, "la": la938},
        "officer938": {"role": Role.LA_OFFICER, "la": la938},
        "school938": {"role": Role.SCHOOL_USER, "school": School.objects.get(urn="125001")},
    }.items():
        do_create_member(name, password=PASSWORD, **kw)
    return {"url": live_server.url, "schools": schools, "tmp": tmp_path}


def sign_in(page, site, username: str, check_page=None) -> None:
    page.goto(f"{site['url']}/sign-in")
    if check_page:
        check_page(page, "sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def national_admin(site):
    """A national admin ("national") beside the site's users."""
    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role

    return do_create_member("national", password=PASSWORD, role=Role.NATIONAL_ADMIN).user


@pytest.fixture
def signed_in_as(site):
    """signed_in_as(page, username): the page's browser signed in as the user (past two-factor
    sign-in for an admin) without walking the sign-in pages, for tests about other pages."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from keystage.accounts.two_factor import needs_two_factor
    from tests.app.conftest import verify_two_factor

    def sign_in_as(page, username: str) -> None:
        user = get_user_model().objects.get(username=username)
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        if needs_two_factor(user):
            verify_two_factor(client, user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": site["url"]}]
        )

    return sign_in_as


@pytest.fixture
def axe_scan(axe_source):
    """axe_scan(page, name): check_page's axe-core scan (moderate, serious or critical
    violations fail) without a screenshot, for tests that look at many pages."""

    def scan(page, name: str) -> None:
        page.wait_for_load_state("load")
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(axe_source)
        result = page.evaluate("() => axe.run()")
        assert result["passes"], "axe-core did not run"
        print(f"axe {name}: {len(result['passes'])} rules passed")
        for v in result["violations"]:
            targets = [n["target"] for n in v["nodes"]][:5]
            print(f"axe {name}: {v['impact']} {v['id']}: {v['help']} at {targets}")
        bad = [
            v for v in result["violations"] if v["impact"] in ("moderate", "serious", "critical")
        ]
        assert not bad, f"{name}: axe found {[v['id'] for v in bad]} on {page.url}"

    return scan
