"""/v1/locks: an admin reads and clears lockouts of its own client's subjects and destinations."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel, Policy
from tests.conftest import make_clients
from tests.support import PHONE, Api, CapturingSender, FakeClock, auth
from tests.totp.test_totp_api import _check, _verified
from tests.totp.totp_support import SUBJECT, code_at, wrong_code

LOCKS = "/v1/locks"


@pytest.fixture(name="api")
def _api(settings: Settings, clock: FakeClock) -> Api:
    """Clients whose destinations lock after three wrong codes."""
    policy = Policy(resend_cooldown_seconds=0, destination_failures="3/hour")
    changed = dataclasses.replace(settings, api_keys=make_clients(policy))
    sender = CapturingSender()
    app: Flask = create_app(changed, clock=clock, senders={Channel.SMS: sender})
    return Api(app.test_client(), sender)


def _locked_factor(http: FlaskClient, clock: FakeClock) -> str:
    secret: str = _verified(http, clock)["secret"]
    for _ in range(5):
        _check(http, wrong_code(secret, clock.ms))
    assert 429 == _check(http, code_at(secret, clock.ms)).status_code
    return secret


class TestSubjects:
    def test_an_admin_reads_a_locked_factor(self, http: FlaskClient, clock: FakeClock) -> None:
        """The codes' allowance shows 5 failures, step 1 and until when; backup codes are free."""
        _locked_factor(http, clock)
        response = http.get(f"{LOCKS}/subjects/{SUBJECT}", headers=auth())
        body: dict[str, Any] = response.get_json()
        assert 200 == response.status_code
        assert (5, 1) == (body["codes"]["failures"], body["codes"]["level"])
        assert body["codes"]["locked_until"]
        assert {"failures": 0, "level": 0, "locked_until": None} == body["backup_codes"]

    def test_clearing_lets_the_right_code_in_and_is_audited(
        self, http: FlaskClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """DELETE ends the lock at once (204), and the audit log says so."""
        secret = _locked_factor(http, clock)
        assert 204 == http.delete(f"{LOCKS}/subjects/{SUBJECT}", headers=auth()).status_code
        assert {"valid": True} == _check(http, code_at(secret, clock.ms)).get_json()
        assert any(r.getMessage() == "lock.cleared" for r in caplog.records)

    def test_another_clients_subject_is_not_found(
        self, http: FlaskClient, clock: FakeClock
    ) -> None:
        """globex's admin key cannot see or clear acme's factor."""
        _locked_factor(http, clock)
        assert 404 == http.get(f"{LOCKS}/subjects/{SUBJECT}", headers=auth("globex")).status_code
        assert 404 == http.delete(f"{LOCKS}/subjects/{SUBJECT}", headers=auth("globex")).status_code

    def test_a_key_without_the_admin_scope_is_403(self, http: FlaskClient) -> None:
        """A start-only key is refused."""
        response = http.get(f"{LOCKS}/subjects/{SUBJECT}", headers=auth("starter"))
        assert 403 == response.status_code


class TestDestinations:
    def _lock(self, api: Api) -> None:
        verification_id, code = api.started()
        wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
        for _ in range(3):
            api.check(verification_id, wrong)
        assert 429 == api.start().status_code

    def test_an_admin_reads_and_clears_a_destination(self, api: Api) -> None:
        """Three wrong codes lock the number; the admin sees it, clears it, and it starts again."""
        self._lock(api)
        response = api.http.get(f"{LOCKS}/destinations/{PHONE}", headers=auth())
        body: dict[str, Any] = response.get_json()
        # The lock started the window afresh (the next, longer lock takes three more).
        assert (200, 0, 3) == (
            response.status_code,
            body["failures_in_window"],
            body["consecutive_failures"],
        )
        assert body["locked_until"]
        assert PHONE not in str(body)  # masked
        deleted = api.http.delete(f"{LOCKS}/destinations/{PHONE}", headers=auth())
        assert 204 == deleted.status_code
        assert 201 == api.start().status_code

    def test_a_malformed_destination_is_422(self, api: Api) -> None:
        """Not a phone number or an email address."""
        response = api.http.get(f"{LOCKS}/destinations/not-a-number", headers=auth())
        assert 422 == response.status_code
