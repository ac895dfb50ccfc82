"""Abuse protection: each limit trips at its threshold and recovers after its window."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask import Flask

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel, Policy
from tests.conftest import make_clients
from tests.support import PHONE, Api, CapturingSender, FakeClock, auth

AppFactory = Callable[..., Api]


@pytest.fixture(name="make_api")
def _make_api(settings: Settings, clock: FakeClock, redis_client: redis.Redis) -> AppFactory:
    """An Api whose clients share ``policy`` and whose settings take ``changes``."""

    def make(policy: Policy | None = None, **changes: Any) -> Api:
        changed = dataclasses.replace(
            settings, api_keys=make_clients(policy or Policy(resend_cooldown_seconds=0)), **changes
        )
        sender = CapturingSender()
        app: Flask = create_app(
            changed, clock=clock, senders={Channel.SMS: sender, Channel.EMAIL: sender}
        )
        return Api(app.test_client(), sender)

    return make


def _phone(n: int) -> str:
    return f"+1415555{n:04d}"


def _limited(response: Any, limit: str) -> None:
    assert 429 == response.status_code, response.get_json()
    body = response.get_json()
    assert ("/problems/rate-limited", limit) == (body["type"], body["limit"])
    assert 1 <= int(response.headers["Retry-After"]) <= 2


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


class TestSendLimits:
    def test_sends_per_destination_trip_at_the_threshold_and_recover(
        self, make_api: AppFactory
    ) -> None:
        """Two sends to a destination per second: the third is 429, a second later it passes."""
        api = make_api(Policy(resend_cooldown_seconds=0, destination_sends="2/1second"))
        assert [201, 200] == [api.start().status_code for _ in range(2)]
        _limited(api.start(), "destination_sends")
        assert 1 == len({m.to for m in api.sender.sent}) == 1
        assert 2 == len(api.sender.sent)
        time.sleep(1.05)
        assert 200 == api.start().status_code

    def test_starts_per_client(self, make_api: AppFactory) -> None:
        """A client's starts per window are bounded, whatever the destination."""
        api = make_api(Policy(client_starts="3/1second"))
        assert [201] * 3 == [api.start(_phone(n)).status_code for n in range(3)]
        _limited(api.start(_phone(9)), "client_starts")
        assert 201 == api.start(_phone(9), client="globex").status_code

    def test_starts_per_end_user_ip(self, make_api: AppFactory) -> None:
        """With context.ip, one IP's starts are bounded; another IP is not affected."""
        api = make_api(Policy(ip_starts="2/1second"))
        ip = {"ip": "203.0.113.7"}
        assert [201, 201] == [api.start(_phone(n), context=ip).status_code for n in range(2)]
        _limited(api.start(_phone(3), context=ip), "ip_starts")
        assert 201 == api.start(_phone(4), context={"ip": "203.0.113.8"}).status_code

    def test_ip_comes_from_trusted_proxy_headers(self, make_api: AppFactory) -> None:
        """Behind OTP_TRUSTED_PROXIES=1, X-Forwarded-For names the end user."""
        api = make_api(Policy(ip_starts="1/1second"), trusted_proxies=1)
        headers = {**auth(), "X-Forwarded-For": "198.51.100.1"}
        body = {"to": _phone(1), "channel": "sms"}
        assert 201 == api.http.post("/v1/verifications", json=body, headers=headers).status_code
        body["to"] = _phone(2)
        _limited(api.http.post("/v1/verifications", json=body, headers=headers), "ip_starts")


class TestChannelSends:
    def test_a_channel_limit_counts_that_channel_only(self, make_api: AppFactory) -> None:
        """Two SMS per client per second: the third SMS is 429, email and other clients pass."""
        api = make_api(Policy(channel_sends=((Channel.SMS, "2/1second"),)))
        assert [201, 201] == [api.start(_phone(n)).status_code for n in range(2)]
        _limited(api.start(_phone(3)), "sms_sends")
        assert 201 == api.start("bob@example.com", Channel.EMAIL).status_code
        assert 201 == api.start(_phone(4), client="globex").status_code
        sms = [m for m in api.sender.sent if m.channel is Channel.SMS]
        assert 3 == len(sms)  # acme's two and globex's one: the refused one was not sent

    def test_resends_count_against_the_channel(self, make_api: AppFactory) -> None:
        api = make_api(
            Policy(resend_cooldown_seconds=0, channel_sends=((Channel.SMS, "2/1second"),))
        )
        assert [201, 200] == [api.start().status_code for _ in range(2)]
        _limited(api.start(), "sms_sends")


class TestSmsCountries:
    def test_country_outside_the_allowed_list_is_403(self, make_api: AppFactory) -> None:
        """OTP_SMS_ALLOWED_COUNTRIES: other countries get 403 country-not-allowed, nothing sent."""
        api = make_api(Policy(sms_allowed_countries=frozenset({"US"})))
        response = api.start("+33612345678")
        assert 403 == response.status_code
        assert "/problems/country-not-allowed" == response.get_json()["type"]
        assert 201 == api.start(PHONE).status_code
        assert [PHONE] == [m.to for m in api.sender.sent]

    def test_country_cap_trips_the_pumping_guard(
        self, make_api: AppFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A country suddenly receiving more SMS than its cap: 429 and a warning log event."""
        api = make_api(sms_country_limits=(("FR", "2/1second"),))
        caplog.set_level(logging.WARNING, logger="otp_service.abuse.guard")
        assert [201, 201] == [api.start(f"+3361234567{n}").status_code for n in range(2)]
        _limited(api.start("+33612345679"), "sms_country_sends")
        assert 201 == api.start(_phone(1)).status_code  # another country is not affected
        assert any(r.getMessage() == "SMS pumping guard tripped" for r in caplog.records)


class TestFailureLockout:
    def test_failures_across_verifications_lock_the_destination(self, make_api: AppFactory) -> None:
        """After N failures in the window (here 3), checks and new starts are refused."""
        api = make_api(
            Policy(resend_cooldown_seconds=0, destination_failures="3/1second"),
            lockout_schedule=(1, 2),
        )
        verification_id, code = api.started()
        bodies = [api.check(verification_id, _wrong(code)).get_json() for _ in range(3)]
        assert [4, 3, 0] == [b["attempts_remaining"] for b in bodies]
        assert "max_attempts_reached" == bodies[-1]["status"]
        assert 429 == api.check(verification_id, code).status_code
        api.http.post(f"/v1/verifications/{verification_id}/cancel", headers=auth())
        _limited(api.start(), "destination_failures")
        time.sleep(1.05)
        assert 201 == api.start().status_code

    def test_consecutive_failures_are_capped(self, make_api: AppFactory) -> None:
        """Never more than OTP_MAX_CONSECUTIVE_FAILURES failures in a row for a destination."""
        api = make_api(max_consecutive_failures=3)
        first, code = api.started()
        api.check(first, _wrong(code))
        api.check(first, _wrong(code))
        api.http.post(f"/v1/verifications/{first}/cancel", headers=auth())
        second, code = api.started()
        third_failure = api.check(second, _wrong(code)).get_json()
        assert (0, "max_attempts_reached") == (
            third_failure["attempts_remaining"],
            third_failure["status"],
        )
        api.http.post(f"/v1/verifications/{second}/cancel", headers=auth())
        response = api.start()
        assert 429 == response.status_code
        assert "consecutive_failures" == response.get_json()["limit"]

    def test_a_right_code_ends_the_run_of_failures(self, make_api: AppFactory) -> None:
        """Failures then success: the consecutive count starts again from zero."""
        api = make_api(max_consecutive_failures=3)
        first, code = api.started()
        api.check(first, _wrong(code))
        api.check(first, _wrong(code))
        assert "approved" == api.check(first, code).get_json()["status"]
        second, code = api.started()
        # Without the reset this would be the third failure in a row, and lock.
        assert 4 == api.check(second, _wrong(code)).get_json()["attempts_remaining"]


class TestEscalatingLockouts:
    def _fail(self, api: Api, times: int) -> None:
        verification_id, code = api.started()
        for _ in range(times):
            api.check(verification_id, _wrong(code))
        api.http.post(f"/v1/verifications/{verification_id}/cancel", headers=auth())

    def test_each_lock_takes_as_many_failures_again_and_lasts_longer(
        self, make_api: AppFactory
    ) -> None:
        """3 failures: locked for 1 s; 3 more after it ends: locked for 2 s, not 1."""
        api = make_api(
            Policy(resend_cooldown_seconds=0, destination_failures="3/hour"),
            lockout_schedule=(1, 2),
        )
        self._fail(api, 3)
        first = api.start()
        assert (429, "destination_failures") == (first.status_code, first.get_json()["limit"])
        assert 1 == int(first.headers["Retry-After"])
        time.sleep(1.05)
        self._fail(api, 2)  # the window started afresh: 2 are not enough to lock
        self._fail(api, 1)
        second = api.start()
        assert (429, 2) == (second.status_code, int(second.headers["Retry-After"]))

    def test_a_right_code_forgets_the_escalation(self, make_api: AppFactory) -> None:
        """After a lock, a success: the next lock starts again at the first step."""
        api = make_api(
            Policy(resend_cooldown_seconds=0, destination_failures="3/hour"),
            lockout_schedule=(1, 30),
        )
        self._fail(api, 3)
        time.sleep(1.05)
        verification_id, code = api.started()
        assert "approved" == api.check(verification_id, code).get_json()["status"]
        self._fail(api, 3)
        assert 1 == int(api.start().headers["Retry-After"])


class TestFailClosed:
    def test_limiter_outage_is_503_not_unlimited(
        self, settings: Settings, redis_client: redis.Redis
    ) -> None:
        """
        With the rate-limit storage unreachable, an admin's view of a destination's lockout is
        503, not "no failures". (Starts and wrong codes count their limits in their own scripts,
        on the store's Redis; the ``limits`` storage serves these views, and every limit on a
        Cluster.)
        """
        broken = dataclasses.replace(
            settings, redis_url="redis://127.0.0.1:1/0", redis_timeout_seconds=0.3
        )
        app = create_app(
            broken, redis_client=redis_client, senders={Channel.SMS: CapturingSender()}
        )
        response = app.test_client().get(f"/v1/locks/destinations/{PHONE}", headers=auth())
        assert 503 == response.status_code
        assert response.headers["Retry-After"]

    def test_app_with_an_unreachable_cluster_starts_and_answers_503(
        self, settings: Settings
    ) -> None:
        """Making the app does no I/O, even for a Cluster URL: it starts and fails closed."""
        down = dataclasses.replace(
            settings, redis_url="redis+cluster://127.0.0.1:1", redis_timeout_seconds=0.3
        )
        app = create_app(down, senders={Channel.SMS: CapturingSender()})
        response = app.test_client().post(
            "/v1/verifications", json={"to": PHONE, "channel": "sms"}, headers=auth()
        )
        assert 503 == response.status_code


class TestAuditTrail:
    def test_a_full_flow_is_audited_without_secrets(
        self, make_api: AppFactory, redis_client: redis.Redis, prefix: str
    ) -> None:
        """Start, wrong check, right check: each state change is one record in the stream."""
        api = make_api(audit_stream=True)
        response = api.start(context={"ip": "203.0.113.9"})
        verification_id = response.get_json()["id"]
        code = api.sender.last_code(PHONE)
        api.check(verification_id, _wrong(code))
        api.http.post(
            f"/v1/verifications/{verification_id}/check",
            json={"code": code},
            headers={**auth(), "X-Request-ID": "req-approve"},
        )
        records = [fields for _, fields in redis_client.xrange(f"{prefix}:audit")]  # type: ignore[union-attr]
        assert [
            ("delivery.sent", None),
            ("verification.started", None),
            ("verification.checked", "wrong_code"),
            ("verification.checked", "approved"),
            ("verification.approved", None),
        ] == [(r["event"], r.get("outcome")) for r in records]
        assert {"acme"} == {r["client"] for r in records}
        assert "203.0.113.9" == records[1]["ip"]
        assert "+1415*****00" == records[1]["to"]
        assert "req-approve" == records[-1]["request_id"]
        text = json.dumps(records)
        assert code not in text
        assert PHONE not in text
        assert "$argon2" not in text
        assert "t=2,p=1$" not in text
