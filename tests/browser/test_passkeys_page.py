"""
The passkey walk-through of /try in headless Chromium with a CDP virtual authenticator (CTAP2,
internal transport, resident keys, user verification): register, sign in, sign in from autofill,
a wrong origin refused, a removed passkey refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
import requests
from werkzeug.serving import make_server

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Policy
from tests.browser.conftest import MAX_ATTEMPTS
from tests.conftest import make_clients
from tests.support import KEYS, auth

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
AUTHENTICATOR: dict[str, Any] = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def _serve(settings: Settings) -> Iterator[str]:
    """The app over HTTP on a free loopback port, as http://localhost:<port> (WebAuthn needs a
    domain: an RP id cannot be an IP address)."""
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _dev_settings(settings: Settings) -> Settings:
    clients = make_clients(Policy(max_attempts=MAX_ATTEMPTS))
    return replace(settings, api_keys=clients, dev_api_key=KEYS["acme"])


@pytest.fixture(name="localhost_url")
def _localhost_url(settings: Settings, redis_client: redis.Redis) -> Iterator[str]:
    """Development: RP id localhost, any localhost origin."""
    yield from _serve(_dev_settings(settings))


@pytest.fixture(name="elsewhere_url")
def _elsewhere_url(settings: Settings, redis_client: redis.Redis) -> Iterator[str]:
    """Passkeys allowed only from https://localhost: the page's own origin is not allowed."""
    yield from _serve(replace(_dev_settings(settings), webauthn_origins=("https://localhost",)))


def _authenticator(page: Page) -> tuple[Any, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return cdp, added["authenticatorId"]


def _open(page: Page, url: str) -> None:
    page.goto(f"{url}/try")
    expect(page.locator("#api-key")).to_have_value(KEYS["acme"])


def _register(page: Page, subject: str) -> None:
    page.locator("#passkey-subject").fill(subject)
    page.get_by_role("button", name="Register a passkey").click()
    expect(page.locator("#passkey-result")).to_contain_text("Passkey registered")


def _sign_in(page: Page, subject: str) -> None:
    page.locator("#passkey-subject").fill(subject)
    page.get_by_role("button", name="Sign in with a passkey").click()


class TestPasskeyWalkthrough:
    def test_register_then_sign_in(self, page: Page, localhost_url: str) -> None:
        """A passkey made by the authenticator signs in as its user, user verified."""
        cdp, authenticator_id = _authenticator(page)
        _open(page, localhost_url)
        _register(page, "alice")
        credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
        assert [True] == [c["isResidentCredential"] for c in credentials["credentials"]]
        _sign_in(page, "alice")
        expect(page.locator("#passkey-result")).to_contain_text(
            "Signed in as alice, with passkey pk_"
        )

    def test_sign_in_with_no_user_typed(self, page: Page, localhost_url: str) -> None:
        """A discoverable credential: the sign-in names its user."""
        _authenticator(page)
        _open(page, localhost_url)
        _register(page, "bob")
        _sign_in(page, "")
        expect(page.locator("#passkey-result")).to_contain_text("Signed in as bob")

    def test_sign_in_from_autofill(self, page: Page, localhost_url: str) -> None:
        """Conditional mediation: the field's autofill signs in, no button pressed."""
        _authenticator(page)
        _open(page, localhost_url)
        _register(page, "carol")
        page.reload()
        page.locator("#passkey-subject").click()
        expect(page.locator("#passkey-result")).to_contain_text("Signed in as carol from autofill")

    def test_a_removed_passkey_is_refused(self, page: Page, localhost_url: str) -> None:
        """Deleted through the API: the authenticator still has it, the service refuses it."""
        _authenticator(page)
        _open(page, localhost_url)
        _register(page, "dave")
        url = localhost_url.replace("localhost", "127.0.0.1")
        listed = requests.get(f"{url}/v1/passkeys?subject=dave", headers=auth(), timeout=5).json()
        passkey_id = listed["passkeys"][0]["id"]
        deleted = requests.delete(f"{url}/v1/passkeys/{passkey_id}", headers=auth(), timeout=5)
        assert 204 == deleted.status_code
        _sign_in(page, "")
        expect(page.locator("#passkey-result")).to_contain_text("Not signed in")
        expect(page.locator("#passkey-result")).to_contain_text("unknown_credential")

    def test_a_wrong_origin_is_refused(self, page: Page, elsewhere_url: str) -> None:
        """A page on an origin the service does not allow: refused, the origin named."""
        _authenticator(page)
        _open(page, elsewhere_url)
        page.locator("#passkey-subject").fill("erin")
        page.get_by_role("button", name="Register a passkey").click()
        result = page.locator("#passkey-result")
        expect(result).to_contain_text("Not done")
        expect(result).to_contain_text(elsewhere_url)
        expect(result).to_contain_text("passkey-rejected")
