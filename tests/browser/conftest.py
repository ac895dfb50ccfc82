"""
Browser fixtures: the app served over real HTTP on 127.0.0.1, and the system's headless Chromium
(Debian's ``chromium`` package) driven by Playwright's sync API. Playwright's own browser download
is never used: the tests launch the executable found on this machine.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
from werkzeug.serving import make_server

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Policy
from tests.conftest import make_clients
from tests.support import KEYS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# As on the machine notes: without the background-networking flags Chromium keeps dialling
# Google's hosts, which this machine's closed network refuses.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
#: Checks per verification on the served app: small, so the error path is short.
MAX_ATTEMPTS = 3
TIMEOUT_MS = 10_000


def find_chromium() -> str | None:
    """``CHROMIUM_PATH`` when set, else the first Chromium on PATH (Debian's is ``chromium``)."""
    given = os.environ.get("CHROMIUM_PATH")
    if given:
        return given if os.access(given, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(name="browser", scope="package")
def _browser() -> Iterator[Browser]:
    """One headless Chromium for the browser tests (closed after them, before other tests)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
    )
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "no Chromium executable found: install Debian's chromium package "
            "(apt-get install chromium) or set CHROMIUM_PATH"
        )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(name="page")
def _page(browser: Browser) -> Iterator[Page]:
    """A fresh tab in a fresh context (no cookies or storage shared between tests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(name="server_url")
def _server_url(settings: Settings, redis_client: redis.Redis) -> Iterator[str]:
    """The app in development mode with its real dev sender, over HTTP on a free loopback port."""
    served = replace(
        settings,
        api_keys=make_clients(Policy(max_attempts=MAX_ATTEMPTS)),
        dev_api_key=KEYS["acme"],
    )
    server = make_server("127.0.0.1", 0, create_app(served), threaded=True)
    # A short poll interval: shutdown() waits for the loop to notice, once per test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="browser-test-server"
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(name="screenshot")
def _screenshot(request: pytest.FixtureRequest, page: Page) -> Callable[[str], Path]:
    """Save the page as ``test-artifacts/browser/<name>.png`` (gitignored) and return the path."""
    folder = request.config.rootpath / "test-artifacts" / "browser"
    folder.mkdir(parents=True, exist_ok=True)

    def save(name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
