"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Run them with `pytest tests/browser` (marker: `browser`). Without /usr/bin/chromium they
skip, except when CI=true: there a missing browser is a failure, never a silent skip.
"""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission

from incidents import tasks
from incidents.roles import ensure_roles

# Playwright's sync API runs an event loop in this thread; Django refuses ORM
# calls from a thread with a running loop unless told it is safe (it is: the
# loop only talks to the browser).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
# Required on this machine (and in CI): no sandbox in containers, no network side-traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "pw"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}: browser tests must run in CI", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class BrowserSession:
    """One browser context (one person's cookies) with its console errors and dialogs."""

    def __init__(self, browser, base_url: str, viewport: dict):
        self.context = browser.new_context(base_url=base_url, viewport=viewport)
        self.context.set_default_timeout(10_000)
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = self.context.new_page()
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"pageerror: {error}"))
        self.page.on("dialog", self._on_dialog)
        self.page.console_errors = self.console_errors
        self.page.dialogs = self.dialogs

    def _on_console(self, message) -> None:
        if message.type == "error":
            location = message.location or {}
            self.console_errors.append(f"{message.text} ({location.get('url', '')}:{location.get('lineNumber', '')})")

    def _on_dialog(self, dialog) -> None:
        # hx-confirm and beforeunload; recorded so a test can say none was expected.
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.accept()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open another person's page (a fresh context): `new_page()` or `new_page(viewport=PHONE)`."""
    sessions: list[BrowserSession] = []

    def open_page(viewport: dict | None = None):
        session = BrowserSession(browser, live_server.url, viewport or DESKTOP)
        sessions.append(session)
        return session.page

    yield open_page
    for session in sessions:
        session.close()


@pytest.fixture
def page(new_page):
    """A fresh context per test, 1280x900; `page.console_errors` collects console errors."""
    return new_page()


@pytest.fixture
def roles(transactional_db):
    """The role groups. A data migration creates them, but the live server's
    transactional database is flushed after each test, taking them with it.
    (The named users, reviewer and the rest, come from tests/conftest.py.)"""
    ensure_roles(Group, Permission)


def _login(page, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form and land on the incident list."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/incidents/")


@pytest.fixture
def login():
    """`login(page, "rita")`: sign in through the form, as a person would."""
    return _login


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def notices_delivered(settings):
    """The review's notices delivered in the server's thread as soon as each step commits, into mail.outbox."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REMINDER_CHANNELS = ["email"]
    conf = tasks.deliver_reminder.app.conf
    before = conf.task_always_eager
    conf.task_always_eager = True
    yield
    conf.task_always_eager = before
