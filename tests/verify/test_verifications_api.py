"""The verification API (docs/api.md) and its invariants (docs/architecture.md), through Flask."""

from __future__ import annotations

import pytest
import redis

from otp_service.core.errors import DeliveryFailed
from tests.support import EMAIL, PHONE, Api, FakeClock, auth


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


class TestStart:
    def test_start_answers_201_with_a_masked_destination(self, api: Api) -> None:
        """A new verification is 201 with the contract's fields and `to` masked."""
        response = api.start()
        body = response.get_json()
        assert 201 == response.status_code
        assert body["id"].startswith("vf_")
        assert "pending" == body["status"]
        assert "+1415*****00" == body["to"]
        assert (5, 4) == (body["attempts_remaining"], body["sends_remaining"])
        assert {"created_at", "expires_at", "resend_available_at", "channel"} <= body.keys()

    def test_email_destination_is_normalised_and_masked(self, api: Api) -> None:
        """An email verification sends to the normalised address and shows it masked."""
        response = api.start("Alice@Example.COM", "email")
        assert 201 == response.status_code
        assert "A***@example.com" == response.get_json()["to"]
        assert "Alice@example.com" == api.sender.sent[-1].to

    def test_second_start_resends_the_pending_one(self, api: Api, clock: FakeClock) -> None:
        """A start for a pending destination after the cooldown resends: same id, 200."""
        first = api.start().get_json()
        clock.advance(31)
        second = api.start()
        assert 200 == second.status_code
        assert first["id"] == second.get_json()["id"]
        assert 3 == second.get_json()["sends_remaining"]
        assert 2 == len(api.sender.sent)

    def test_resend_within_cooldown_is_429_with_retry_after(
        self, api: Api, clock: FakeClock
    ) -> None:
        """A resend before the cooldown ends is refused with the seconds left."""
        api.start()
        clock.advance(10)
        response = api.start()
        assert 429 == response.status_code
        assert "/problems/resend-too-soon" == response.get_json()["type"]
        assert "20" == response.headers["Retry-After"]
        assert 1 == len(api.sender.sent)

    def test_sends_are_bounded_by_max_sends(self, api: Api, clock: FakeClock) -> None:
        """After max_sends sends, a resend is 429 max-sends-reached."""
        for _ in range(5):
            assert api.start().status_code in (200, 201)
            clock.advance(31)
        response = api.start()
        assert 429 == response.status_code
        assert "/problems/max-sends-reached" == response.get_json()["type"]
        assert 5 == len(api.sender.sent)

    def test_channel_must_be_known(self, api: Api) -> None:
        """An unknown channel is a 422 naming the field."""
        response = api.start(channel="pigeon")
        assert 422 == response.status_code
        assert "channel" == response.get_json()["errors"][0]["field"]

    def test_failed_delivery_is_502_and_marks_the_verification_failed(self, api: Api) -> None:
        """A delivery failure answers 502, the verification is failed, a new start is new."""
        api.sender.failure = DeliveryFailed("provider down", retryable=True)
        response = api.start()
        assert 502 == response.status_code
        problem = response.get_json()
        assert (True, "/problems/delivery-failed") == (problem["retryable"], problem["type"])
        shown = api.http.get(f"/v1/verifications/{problem['verification_id']}", headers=auth())
        assert "failed" == shown.get_json()["status"]
        assert 404 == api.check(problem["verification_id"], "123456").status_code
        api.sender.failure = None
        fresh = api.start()
        assert 201 == fresh.status_code


class TestCheck:
    def test_wrong_code_is_200_not_valid(self, api: Api) -> None:
        """A wrong code is an expected outcome: 200, valid false, one attempt used."""
        verification_id, code = api.started()
        response = api.check(verification_id, _wrong(code))
        assert 200 == response.status_code
        assert {
            "id": verification_id,
            "status": "pending",
            "valid": False,
            "attempts_remaining": 4,
        } == (response.get_json())

    def test_attempts_are_bounded_then_429(self, api: Api) -> None:
        """Invariant 1: max_attempts checks, then 429 max-attempts-reached, even the right code."""
        verification_id, code = api.started()
        statuses = [api.check(verification_id, _wrong(code)).get_json()["status"] for _ in range(5)]
        assert ["pending"] * 4 + ["max_attempts_reached"] == statuses
        response = api.check(verification_id, code)
        assert 429 == response.status_code
        assert "/problems/max-attempts-reached" == response.get_json()["type"]
        assert int(response.headers["Retry-After"]) > 0

    def test_resend_does_not_reset_attempts(self, api: Api, clock: FakeClock) -> None:
        """Invariant 1: a resend keeps the attempts already used."""
        verification_id, code = api.started()
        api.check(verification_id, _wrong(code))
        api.check(verification_id, _wrong(code))
        clock.advance(31)
        resent = api.start()
        assert 3 == resent.get_json()["attempts_remaining"]

    def test_locked_verification_is_replaced_not_resent(self, api: Api, clock: FakeClock) -> None:
        """A verification with no checks left gets no fresh guesses: a start makes a new one."""
        verification_id, code = api.started()
        for _ in range(5):
            api.check(verification_id, _wrong(code))
        clock.advance(31)
        response = api.start()
        assert 201 == response.status_code
        assert verification_id != response.get_json()["id"]
        assert (
            "/problems/max-attempts-reached" == api.check(verification_id, code).get_json()["type"]
        )

    def test_approved_once_then_gone(self, api: Api, http: object) -> None:
        """Invariant 2: approved at most once; afterwards checks get 404."""
        verification_id, code = api.started()
        assert "approved" == api.check(verification_id, code).get_json()["status"]
        again = api.check(verification_id, code)
        assert 404 == again.status_code
        assert "/problems/verification-not-found" == again.get_json()["type"]

    def test_only_the_latest_code_is_valid(self, api: Api, clock: FakeClock) -> None:
        """Invariant 3: a resend invalidates the previous code."""
        verification_id, old_code = api.started()
        clock.advance(31)
        api.start()
        new_code = api.sender.last_code(PHONE)
        if new_code == old_code:
            pytest.skip("the new code happens to equal the old one (1 in 10^6)")
        assert {"valid": False} == {
            "valid": api.check(verification_id, old_code).get_json()["valid"]
        }
        assert "approved" == api.check(verification_id, new_code).get_json()["status"]

    def test_expired_verification_is_404(self, api: Api, clock: FakeClock) -> None:
        """After code_ttl_seconds the code no longer checks, and GET shows expired."""
        verification_id, code = api.started()
        clock.advance(601)
        assert 404 == api.check(verification_id, code).status_code
        shown = api.http.get(f"/v1/verifications/{verification_id}", headers=auth())
        assert "expired" == shown.get_json()["status"]

    def test_code_of_wrong_length_is_422_and_costs_no_attempt(self, api: Api) -> None:
        """A code that cannot be right (wrong length) is a 422 and uses no attempt."""
        verification_id, _ = api.started()
        response = api.check(verification_id, "1234567")
        assert 422 == response.status_code
        shown = api.http.get(f"/v1/verifications/{verification_id}", headers=auth())
        assert 5 == shown.get_json()["attempts_remaining"]

    def test_check_by_destination(self, api: Api) -> None:
        """POST /v1/verification-checks finds the pending verification of a destination."""
        verification_id, code = api.started(EMAIL, "email")
        response = api.http.post(
            "/v1/verification-checks", json={"to": EMAIL, "code": code}, headers=auth()
        )
        assert {"id": verification_id, "status": "approved", "valid": True} == {
            k: response.get_json()[k] for k in ("id", "status", "valid")
        }

    def test_check_by_unknown_destination_is_404(self, api: Api) -> None:
        """No pending verification for the destination: 404."""
        response = api.http.post(
            "/v1/verification-checks", json={"to": PHONE, "code": "123456"}, headers=auth()
        )
        assert 404 == response.status_code

    @pytest.mark.parametrize("verification_id", ["vf_" + "0" * 32, "nope", "vf_../../etc"])
    def test_unknown_ids_are_404(self, api: Api, verification_id: str) -> None:
        """Unknown or malformed ids are 404 problems."""
        response = api.check(verification_id, "123456")
        assert 404 == response.status_code
        assert "application/problem+json" == response.mimetype


class TestGetAndCancel:
    def test_get_shows_the_verification(self, api: Api) -> None:
        """GET returns what start returned (status pending)."""
        started = api.start().get_json()
        shown = api.http.get(f"/v1/verifications/{started['id']}", headers=auth()).get_json()
        assert started["id"] == shown["id"]
        assert "pending" == shown["status"]

    def test_cancel_then_checks_are_404(self, api: Api) -> None:
        """A canceled verification answers 404 to checks and to a second cancel."""
        verification_id, code = api.started()
        canceled = api.http.post(f"/v1/verifications/{verification_id}/cancel", headers=auth())
        assert "canceled" == canceled.get_json()["status"]
        assert 404 == api.check(verification_id, code).status_code
        again = api.http.post(f"/v1/verifications/{verification_id}/cancel", headers=auth())
        assert 404 == again.status_code

    def test_cancel_frees_the_destination(self, api: Api) -> None:
        """After a cancel, a start for the same destination creates a new verification."""
        verification_id, _ = api.started()
        api.http.post(f"/v1/verifications/{verification_id}/cancel", headers=auth())
        response = api.start()
        assert 201 == response.status_code
        assert verification_id != response.get_json()["id"]


class TestClients:
    def test_clients_are_isolated(self, api: Api) -> None:
        """Invariant 7: another client can neither read, check nor cancel a verification."""
        verification_id, code = api.started()
        path = f"/v1/verifications/{verification_id}"
        assert 404 == api.http.get(path, headers=auth("globex")).status_code
        assert 404 == api.check(verification_id, code, client="globex").status_code
        assert 404 == api.http.post(f"{path}/cancel", headers=auth("globex")).status_code
        assert "approved" == api.check(verification_id, code).get_json()["status"]

    def test_same_destination_for_two_clients_is_two_verifications(self, api: Api) -> None:
        """Each client has its own verification for a destination."""
        first = api.start(client="acme").get_json()["id"]
        second = api.start(client="globex").get_json()["id"]
        assert first != second

    def test_missing_key_is_401(self, api: Api) -> None:
        """No API key: 401 problem with WWW-Authenticate-free body."""
        response = api.http.post("/v1/verifications", json={"to": PHONE, "channel": "sms"})
        assert 401 == response.status_code
        assert "/problems/unauthorized" == response.get_json()["type"]

    def test_unknown_key_is_401(self, api: Api) -> None:
        """An unknown API key: 401."""
        response = api.http.post(
            "/v1/verifications",
            json={"to": PHONE, "channel": "sms"},
            headers={"Authorization": "Bearer not-a-key"},
        )
        assert 401 == response.status_code

    @pytest.mark.parametrize(
        ("client", "method", "path"),
        [
            ("checker", "post", "/v1/verifications"),
            ("starter", "post", "/v1/verification-checks"),
            ("starter", "post", "/v1/verifications/vf_00000000000000000000000000000000/check"),
        ],
    )
    def test_scopes_are_enforced(self, api: Api, client: str, method: str, path: str) -> None:
        """A key without the route's scope is 403 forbidden."""
        response = getattr(api.http, method)(
            path, json={"to": PHONE, "channel": "sms", "code": "123456"}, headers=auth(client)
        )
        assert 403 == response.status_code
        assert "/problems/forbidden" == response.get_json()["type"]


class TestRequestId:
    def test_request_id_is_echoed(self, api: Api) -> None:
        """A safe X-Request-ID is echoed back."""
        response = api.http.get("/livez", headers={"X-Request-ID": "abc-123"})
        assert "abc-123" == response.headers["X-Request-ID"]

    def test_request_id_is_generated_when_absent_or_unsafe(self, api: Api) -> None:
        """No or unsafe X-Request-ID: a fresh one is generated."""
        fresh = api.http.get("/livez").headers["X-Request-ID"]
        unsafe = api.http.get("/livez", headers={"X-Request-ID": "a b\tc"}).headers["X-Request-ID"]
        assert 32 == len(fresh)
        assert "a b\tc" != unsafe

    def test_errors_carry_the_request_id(self, api: Api) -> None:
        """Problems carry the request id too."""
        response = api.http.get("/nope", headers={"X-Request-ID": "rid-1"})
        assert "rid-1" == response.headers["X-Request-ID"]
        assert "rid-1" == response.get_json()["request_id"]


def test_store_outage_is_503_with_retry_after(api: Api, redis_client: redis.Redis) -> None:
    """Invariant 6: when Redis cannot be reached, 503 with Retry-After; nothing approved."""
    from otp_service import create_app
    from otp_service.config.settings import Settings
    from otp_service.core.models import Channel
    from tests.conftest import make_clients
    from tests.support import PEPPER, CapturingSender

    settings = Settings(
        env="development",
        redis_url="redis://127.0.0.1:1/0",
        pepper=PEPPER,
        api_keys=make_clients(),
        argon2_profile="test",
        redis_timeout_seconds=0.5,
    )
    sender = CapturingSender()
    app = create_app(settings, senders={Channel.SMS: sender})
    response = app.test_client().post(
        "/v1/verifications", json={"to": PHONE, "channel": "sms"}, headers=auth()
    )
    assert 503 == response.status_code
    assert "/problems/store-unavailable" == response.get_json()["type"]
    assert "2" == response.headers["Retry-After"]
    assert [] == sender.sent
