"""
Hardening found by an outside review: canonical destination keys, counted starts, a new
verification after max attempts, strict end-user IPs, free text without separators, dev pages.
"""

from __future__ import annotations

import dataclasses
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
from tests.support import KEYS, PHONE, Api, CapturingSender, FakeClock, auth

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


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def _limit(response: Any) -> str:
    assert 429 == response.status_code, response.get_json()
    return str(response.get_json()["limit"])


class TestCanonicalEmail:
    def test_case_and_tag_forms_share_the_pending_verification(self, make_api: AppFactory) -> None:
        """Another case or +tag of an address resends the pending verification, not a new one."""
        api = make_api()
        first = api.start("Victim+a@Corp.example", "email")
        assert 201 == first.status_code
        again = api.start("victim@corp.example", "email")
        assert (200, first.get_json()["id"]) == (again.status_code, again.get_json()["id"])
        assert ["Victim+a@corp.example"] * 2 == [m.to for m in api.sender.sent]

    def test_case_forms_share_the_send_limit(self, make_api: AppFactory) -> None:
        """Each case form does not get its own sends a day."""
        api = make_api(Policy(resend_cooldown_seconds=0, destination_sends="2/day"))
        forms = ["victim@corp.example", "VICTIM@corp.example", "Victim+x@CORP.example"]
        first, second, third = (api.start(to, "email") for to in forms)
        assert [201, 200] == [first.status_code, second.status_code]
        assert "destination_sends" == _limit(third)

    def test_case_forms_share_the_failure_lockout(self, make_api: AppFactory) -> None:
        """Wrong codes for one form lock every form of the address."""
        api = make_api(Policy(resend_cooldown_seconds=0, destination_failures="2/hour"))
        verification_id, code = api.started("victim@corp.example", Channel.EMAIL)
        for _ in range(2):
            api.check(verification_id, _wrong(code))
        assert "destination_failures" == _limit(api.start("Victim@corp.example", "email"))


class TestCountedStarts:
    def test_refused_starts_use_no_client_quota(self, make_api: AppFactory) -> None:
        """Resends refused for their cooldown do not use the client's starts."""
        api = make_api(Policy(resend_cooldown_seconds=60, client_starts="2/minute"))
        assert 201 == api.start(_phone(1)).status_code
        refused = [api.start(_phone(1)) for _ in range(5)]
        assert {"/problems/resend-too-soon"} == {r.get_json()["type"] for r in refused}
        assert 201 == api.start(_phone(2)).status_code
        assert "client_starts" == _limit(api.start(_phone(3)))


class TestNewVerificationAfterMaxAttempts:
    def test_start_after_max_attempts_creates_a_new_verification(
        self, make_api: AppFactory
    ) -> None:
        """As in Twilio: the used-up verification stays failed, a new one gets a new id."""
        api = make_api(Policy(resend_cooldown_seconds=0, max_attempts=2))
        first, code = api.started()
        assert [1, 0] == [
            api.check(first, _wrong(code)).get_json()["attempts_remaining"] for _ in range(2)
        ]
        second = api.start()
        assert 201 == second.status_code, second.get_json()
        assert first != second.get_json()["id"]
        assert (
            "approved"
            == api.check(second.get_json()["id"], api.sender.last_code(PHONE)).get_json()["status"]
        )
        assert 429 == api.check(first, code).status_code

    def test_destination_failure_window_still_bounds_guessing(self, make_api: AppFactory) -> None:
        """New verifications do not reset the per-destination failure window."""
        api = make_api(
            Policy(resend_cooldown_seconds=0, max_attempts=2, destination_failures="3/hour")
        )
        first, code = api.started()
        for _ in range(2):
            api.check(first, _wrong(code))
        second, code = api.started()
        api.check(second, _wrong(code))
        assert "destination_failures" == _limit(api.start())


class TestStrictInput:
    @pytest.mark.parametrize("ip", [12, 3405803783, 1.5, True])
    def test_context_ip_as_a_number_is_422(self, make_api: AppFactory, ip: object) -> None:
        """``{"ip": 12}`` is not read as 0.0.0.12: an address is a string."""
        response = make_api().start(context={"ip": ip})
        assert 422 == response.status_code, response.get_json()

    @pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x07"])
    def test_separators_in_free_text_are_4xx(self, make_api: AppFactory, separator: str) -> None:
        """A line or paragraph separator or a control character in free text: 422, no send."""
        api = make_api()
        response = api.start(context={"user_agent": f"Mozilla{separator}5.0"})
        assert 422 == response.status_code, response.get_json()
        assert [] == api.sender.sent


class TestEndUserIp:
    @pytest.mark.parametrize(
        "spellings",
        [
            ["203.0.113.7", "::ffff:203.0.113.7"],
            ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"],
            ["fe80::1%1", "fe80::1%2", "fe80::1%eth0"],
        ],
    )
    def test_one_person_is_one_key(self, make_api: AppFactory, spellings: list[str]) -> None:
        """IPv4-mapped is IPv4, zone ids are dropped, IPv6 counts per /64."""
        api = make_api(Policy(ip_starts="1/hour"))
        first = api.start(_phone(1), context={"ip": spellings[0]})
        assert 201 == first.status_code, first.get_json()
        for n, spelling in enumerate(spellings[1:], start=2):
            assert "ip_starts" == _limit(api.start(_phone(n), context={"ip": spelling}))

    def test_ipv6_prefix_length_is_configurable(self, make_api: AppFactory) -> None:
        """With OTP_IPV6_PREFIX_LENGTH=128, two addresses of one /64 are two people."""
        api = make_api(Policy(ip_starts="1/hour"), ipv6_prefix_length=128)
        assert 201 == api.start(_phone(1), context={"ip": "2001:db8::1"}).status_code
        assert 201 == api.start(_phone(2), context={"ip": "2001:db8::2"}).status_code

    def test_start_only_key_cannot_choose_its_ip(self, make_api: AppFactory) -> None:
        """A start-only key's context.ip is ignored: its peer address is counted instead."""
        api = make_api(Policy(ip_starts="1/hour"))
        body = {"to": _phone(1), "channel": "sms", "context": {"ip": "203.0.113.1"}}
        headers = {"Authorization": "Bearer " + KEYS["starter"]}
        assert 201 == api.http.post("/v1/verifications", json=body, headers=headers).status_code
        body = {"to": _phone(2), "channel": "sms", "context": {"ip": "203.0.113.2"}}
        refused = api.http.post("/v1/verifications", json=body, headers=headers)
        assert "ip_starts" == _limit(refused)

    def test_forwarded_for_only_from_trusted_proxies(self, make_api: AppFactory) -> None:
        """X-Forwarded-For from a peer outside OTP_TRUSTED_PROXY_CIDRS is not believed."""
        api = make_api(
            Policy(ip_starts="1/hour"), trusted_proxies=1, trusted_proxy_cidrs=("10.0.0.0/8",)
        )
        outsider = {"REMOTE_ADDR": "198.51.100.66"}
        for n, forwarded in enumerate(["192.0.2.1", "192.0.2.2"]):
            response = api.http.post(
                "/v1/verifications",
                json={"to": _phone(n), "channel": "sms"},
                headers={"Authorization": "Bearer " + KEYS["acme"], "X-Forwarded-For": forwarded},
                environ_base=outsider,
            )
            assert [201, 429][n] == response.status_code, response.get_json()
        proxied = api.http.post(
            "/v1/verifications",
            json={"to": _phone(5), "channel": "sms"},
            headers={"Authorization": "Bearer " + KEYS["acme"], "X-Forwarded-For": "192.0.2.3"},
            environ_base={"REMOTE_ADDR": "10.1.2.3"},
        )
        assert 201 == proxied.status_code, proxied.get_json()


def test_resend_extends_the_destination_index(make_api: AppFactory, clock: FakeClock) -> None:
    """A resent code is found by destination until it expires, not only until the first did."""
    api = make_api(Policy(resend_cooldown_seconds=0, code_ttl_seconds=2))
    verification_id, _ = api.started()
    time.sleep(1.2)
    clock.advance(1.2)
    assert 200 == api.start().status_code
    time.sleep(1.2)  # past the first code's expiry, within the resent one's
    clock.advance(1.2)
    body = {"to": PHONE, "code": api.sender.last_code(PHONE)}
    response = api.http.post("/v1/verification-checks", json=body, headers=auth())
    assert (200, "approved") == (response.status_code, response.get_json()["status"])
    assert verification_id == response.get_json()["id"]
