"""
A hypothesis state machine drives the verification life cycle (start, resend, check with the
right, a wrong or a replaced code, check by destination, cancel, failed delivery, time passing)
through the HTTP API on real Redis, next to a model of a few lines: the two always agree.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.errors import DeliveryFailed
from otp_service.core.models import Channel, Policy
from otp_service.web.context import EXTENSION_KEY
from tests.conftest import make_clients
from tests.reliability.support import new_phone, wrong_code
from tests.support import PEPPER, Api, CapturingSender, FakeClock, auth

POLICY = Policy(
    max_attempts=3,
    max_sends=3,
    resend_cooldown_seconds=30,
    code_ttl_seconds=600,
    # Rate limits count real time, which this machine does not move: keep them out of the way.
    destination_sends="100000/minute",
    destination_failures="100000/hour",
)
STEPS_OF_TIME = (1, 29, 31, 300, 601)


@dataclass
class Model:
    """A verification as the model sees it."""

    id: str
    to: str
    code: str
    expires_ms: int
    next_send_ms: int
    status: str = "pending"
    attempts: int = 0
    sends: int = 1
    approvals: int = 0
    old_codes: list[str] = field(default_factory=list)

    def status_at(self, now_ms: int) -> str:
        """What the API shows at ``now_ms``."""
        if self.status == "pending" and now_ms >= self.expires_ms:
            return "expired"
        if self.status == "pending" and self.attempts >= POLICY.max_attempts:
            return "max_attempts_reached"
        return self.status

    def is_checkable(self, now_ms: int) -> bool:
        """Pending, unexpired, with checks left."""
        return self.status_at(now_ms) == "pending"


class LifecycleMachine(RuleBasedStateMachine):
    """The service (Flask app, real Redis, fake clock) against ``Model``, step by step."""

    def __init__(self, redis_url: str) -> None:
        super().__init__()
        self.prefix = "sm" + secrets.token_hex(6)
        self.redis_url = redis_url
        self.clock = FakeClock()
        self.sender = CapturingSender()
        app = create_app(
            Settings(
                env="development",
                redis_url=redis_url,
                redis_prefix=self.prefix,
                pepper=PEPPER,
                api_keys=make_clients(POLICY),
                sms_provider="dev",
                email_provider="dev",
                argon2_profile="test",
                sms_country_limit="100000/hour",
            ),
            clock=self.clock,
            senders={Channel.SMS: self.sender, Channel.EMAIL: self.sender},
        )
        self.services = app.extensions[EXTENSION_KEY]
        self.api = Api(app.test_client(), self.sender)
        self.destinations = (new_phone(), f"m{secrets.token_hex(4)}@example.com")
        self.models: dict[str, Model] = {}
        self.index: dict[str, str] = {}  # destination → id the service's index points at
        self.latest: dict[str, str] = {}  # destination → id of its newest verification

    def teardown(self) -> None:
        """Delete this run's keys and close its connections."""
        client = redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter(match=f"{self.prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        self.services.store.client.close()

    # Helpers ---------------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        return self.clock.now_ms()

    def pick(self, position: int) -> Model:
        # In the order of creation: ids are random, and the same steps must pick the same one.
        ids = list(self.models)
        return self.models[ids[position % len(ids)]]

    def assert_reads_as_modelled(self, model: Model) -> None:
        """GET the verification: status and budgets are the model's."""
        response = self.api.http.get(f"/v1/verifications/{model.id}", headers=auth())
        body = response.get_json()
        expected = (
            200,
            model.status_at(self.now_ms),
            max(POLICY.max_attempts - model.attempts, 0),
            POLICY.max_sends - model.sends,
        )
        actual = (
            response.status_code,
            body.get("status"),
            body.get("attempts_remaining"),
            body.get("sends_remaining"),
        )
        assert expected == actual, body

    def expected_start(self, to: str) -> tuple[int, str | None]:
        """The status and problem type a start for ``to`` gets now (None: a success)."""
        latest = self.models.get(self.index.get(to, ""))
        # One with its checks used up is replaced by a new verification, as in Twilio.
        if latest is None or latest.status_at(self.now_ms) != "pending":
            return 201, None
        if latest.sends >= POLICY.max_sends:
            return 429, "/problems/max-sends-reached"
        if self.now_ms < latest.next_send_ms:
            return 429, "/problems/resend-too-soon"
        return 200, None

    def record_send(self, model: Model, code: str) -> None:
        model.old_codes.append(model.code)
        model.code = code
        model.sends += 1
        model.expires_ms = self.now_ms + POLICY.code_ttl_seconds * 1000
        model.next_send_ms = self.now_ms + POLICY.resend_cooldown_seconds * 1000

    # Rules -----------------------------------------------------------------------------------

    @rule(destination=st.integers(0, 1), is_delivered=st.booleans())
    def start(self, destination: int, is_delivered: bool) -> None:
        """POST /v1/verifications: create, resend or refuse, as the model predicts."""
        to = self.destinations[destination]
        channel = "email" if "@" in to else "sms"
        status, problem = self.expected_start(to)
        self.sender.failure = None if is_delivered else DeliveryFailed("down", retryable=True)
        response = self.api.start(to, channel)
        body: dict[str, Any] = response.get_json()
        if problem is not None:
            assert (status, problem) == (response.status_code, body["type"])
            return
        if not is_delivered:
            assert (502, "/problems/delivery-failed") == (response.status_code, body["type"])
            self.fail_delivery(to, body["verification_id"], is_new=status == 201)
            return
        assert status == response.status_code, body
        code = self.sender.last_code(to)
        if status == 201:
            model = Model(
                body["id"],
                to,
                code,
                self.now_ms + POLICY.code_ttl_seconds * 1000,
                self.now_ms + POLICY.resend_cooldown_seconds * 1000,
            )
            assert body["id"] not in self.models
            self.models[model.id] = model
            self.index[to] = self.latest[to] = model.id
        else:
            model = self.models[self.latest[to]]
            assert model.id == body["id"]
            self.record_send(model, code)
        self.assert_reads_as_modelled(model)

    def fail_delivery(self, to: str, verification_id: str, *, is_new: bool) -> None:
        """A send that failed: the verification is failed and the index released."""
        if is_new:
            model = Model(verification_id, to, "", 0, 0)
            model.expires_ms = self.now_ms + POLICY.code_ttl_seconds * 1000
            model.next_send_ms = self.now_ms + POLICY.resend_cooldown_seconds * 1000
            self.models[verification_id] = model
            self.latest[to] = verification_id
        else:
            model = self.models[verification_id]
            assert self.latest[to] == verification_id
            self.record_send(model, "")
        model.status = "failed"
        self.index.pop(to, None)
        self.assert_reads_as_modelled(model)

    @precondition(lambda self: self.models)
    @rule(position=st.integers(0, 50), kind=st.sampled_from(["right", "wrong", "replaced"]))
    def check(self, position: int, kind: str) -> None:
        """POST /v1/verifications/{id}/check with the right, a wrong or a replaced code."""
        model = self.pick(position)
        self.check_model(model, kind, lambda code: self.api.check(model.id, code))

    @precondition(lambda self: self.models)
    @rule(destination=st.integers(0, 1), is_right=st.booleans())
    def check_destination(self, destination: int, is_right: bool) -> None:
        """POST /v1/verification-checks: the verification the index points at, if any."""
        to = self.destinations[destination]

        def call(code: str) -> Any:
            return self.api.http.post(
                "/v1/verification-checks", json={"to": to, "code": code}, headers=auth()
            )

        pointed = self.models.get(self.index.get(to, ""))
        if pointed is None:
            response = call("123456")
            assert (404, "/problems/verification-not-found") == (
                response.status_code,
                response.get_json()["type"],
            )
            return
        self.check_model(pointed, "right" if is_right else "wrong", call)

    def check_model(self, model: Model, kind: str, call: Any) -> None:
        code = {
            "right": model.code,
            "wrong": wrong_code(model.code or "000000"),
            "replaced": model.old_codes[-1] if model.old_codes else "000000",
        }[kind]
        code = code or "000000"
        response = call(code)
        body = response.get_json()
        if model.status != "pending" or self.now_ms >= model.expires_ms:
            assert (404, "/problems/verification-not-found") == (response.status_code, body["type"])
        elif model.attempts >= POLICY.max_attempts:
            assert (429, "/problems/max-attempts-reached") == (response.status_code, body["type"])
        else:
            model.attempts += 1
            is_valid = code == model.code
            if is_valid:
                model.status = "approved"
                model.approvals += 1
            remaining = POLICY.max_attempts - model.attempts
            status = model.status_at(self.now_ms)
            assert (200, status, is_valid, remaining) == (
                response.status_code,
                body["status"],
                body["valid"],
                body["attempts_remaining"],
            )
        self.assert_reads_as_modelled(model)

    @precondition(lambda self: self.models)
    @rule(position=st.integers(0, 50))
    def cancel(self, position: int) -> None:
        """POST /v1/verifications/{id}/cancel: only a pending, unexpired one is canceled."""
        model = self.pick(position)
        response = self.api.http.post(f"/v1/verifications/{model.id}/cancel", headers=auth())
        if model.status == "pending" and self.now_ms < model.expires_ms:
            model.status = "canceled"
            if self.index.get(model.to) == model.id:
                del self.index[model.to]
            assert (200, "canceled") == (response.status_code, response.get_json()["status"])
        else:
            assert 404 == response.status_code
        self.assert_reads_as_modelled(model)

    @rule(seconds=st.sampled_from(STEPS_OF_TIME))
    def let_time_pass(self, seconds: int) -> None:
        """The fake clock moves: cooldowns end, codes expire."""
        self.clock.advance(seconds)

    @precondition(lambda self: self.index)
    @rule(destination=st.integers(0, 1))
    def wait_for_the_cooldown(self, destination: int) -> None:
        """The fake clock moves to when a new code may be sent to the destination."""
        model = self.models.get(self.index.get(self.destinations[destination], ""))
        if model is not None:
            self.clock.ms = max(self.clock.ms, model.next_send_ms)

    @precondition(lambda self: self.models)
    @rule(position=st.integers(0, 50))
    def read(self, position: int) -> None:
        """GET /v1/verifications/{id} shows what the model holds."""
        self.assert_reads_as_modelled(self.pick(position))

    @invariant()
    def approved_at_most_once(self) -> None:
        """No verification was ever approved twice."""
        assert all(model.approvals <= 1 for model in self.models.values())


def run_machine(redis_url: str, max_examples: int, steps: int) -> None:
    """Run the machine with a fresh app and prefix per example; no example database on disk."""

    class OnTheTestRedis(LifecycleMachine):
        def __init__(self) -> None:
            super().__init__(redis_url)

    run_state_machine_as_test(
        OnTheTestRedis,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            deadline=None,
            database=None,
        ),
    )


def test_service_agrees_with_the_model(redis_url: str) -> None:
    """Quick profile: 60 runs of up to 30 steps; the service and the model never disagree."""
    run_machine(redis_url, max_examples=60, steps=30)


@pytest.mark.slow
def test_service_agrees_with_the_model_deeply(redis_url: str) -> None:
    """Deep profile: 300 runs of up to 50 steps."""
    run_machine(redis_url, max_examples=300, steps=50)
