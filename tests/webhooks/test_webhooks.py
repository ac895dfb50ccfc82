"""
Outbound webhooks end to end: events in the app, jobs on the test Redis, a worker in this process,
and a receiver on loopback that verifies every message with the ``standardwebhooks`` package.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from otp_service.core.errors import DeliveryFailed
from otp_service.core.events import Event, EventKind
from otp_service.core.models import Channel
from otp_service.services import Services
from otp_service.webhooks import EVENT_TYPES
from tests.support import EMAIL, PHONE, Api, CapturingSender, FakeClock, auth
from tests.totp.totp_support import code_at
from tests.webhooks.receiver import Receiver


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def _every_event(app: Flask, services: Services, sender: CapturingSender, clock: FakeClock) -> Any:
    """Cause one event of each type; the codes that were sent."""
    http = app.test_client()
    api = Api(http, sender)
    approved, code = api.started(PHONE)
    api.check(approved, code)
    canceled, _ = api.started(EMAIL, Channel.EMAIL)
    http.post(f"/v1/verifications/{canceled}/cancel", headers=auth())
    locked, locked_code = api.started("+14155550101")
    for _ in range(3):  # the destination locks after 3 failures: checks used up, lock applied
        api.check(locked, _wrong(locked_code))
    expired, expired_code = api.started("+14155550102")
    clock.advance(601)
    api.check(expired, expired_code)
    sender.failure = DeliveryFailed("refused by the test", retryable=False)
    api.start("+14155550103")
    sender.failure = None
    factor = http.post("/v1/totp/factors", json={"subject": "user-1"}, headers=auth()).get_json()
    activate = {"code": code_at(factor["secret"], clock.now_ms())}
    http.post(f"/v1/totp/factors/{factor['id']}/activate", json=activate, headers=auth())
    # As the passkey service records a registration (its ceremony is tested in tests/passkeys).
    detail = {"passkey_id": "pk_" + "0" * 32}
    services.events.record(
        Event(EventKind.PASSKEY_REGISTERED, "acme", outcome="registered", detail=detail)
    )
    return [code, locked_code, expired_code]


def test_each_event_type_reaches_a_verifying_receiver(
    hook_app: Flask,
    hook_services: Services,
    sender: CapturingSender,
    clock: FakeClock,
    receiver: Receiver,
    worker: None,
) -> None:
    """Every event type arrives signed (standardwebhooks verifies it) with the API's resource."""
    codes = _every_event(hook_app, hook_services, sender, clock)
    assert receiver.wait_for(lambda r: set(EVENT_TYPES) <= set(r.types()))
    assert [] == receiver.refused
    by_type = {item.payload["type"]: item for item in receiver.received}
    approved = by_type["verification.approved"].payload
    assert ("approved", "sms", "+1415*****00") == (
        approved["data"]["status"],
        approved["data"]["channel"],
        approved["data"]["to"],
    )
    assert {"type", "timestamp", "data"} == set(approved)
    assert "destination" == by_type["lock.applied"].payload["data"]["what"]
    assert "verified" == by_type["totp.factor.verified"].payload["data"]["status"]
    for item in receiver.received:  # no code and no full destination in any message
        text = item.body.decode()
        assert not any(code in text for code in codes)
        assert PHONE not in text
        assert EMAIL not in text


def test_a_receiver_failing_for_a_while_gets_the_event(
    hook_app: Flask, sender: CapturingSender, receiver: Receiver, worker: None
) -> None:
    """500 on the first try: the retry 5 s later (the spec's schedule) delivers it, same id."""
    receiver.statuses = [500]
    Api(hook_app.test_client(), sender).started(PHONE)
    assert receiver.wait_for(lambda r: len(r.received) >= 2, timeout_seconds=15)
    first, second = receiver.received[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    gap = int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"])
    assert 4 <= gap <= 7


def test_the_same_event_twice_is_one_message(
    hook_services: Services, receiver: Receiver, worker: None
) -> None:
    """An approval recorded again after it was delivered (a job run again) is not sent again."""
    event = Event(EventKind.APPROVED, "acme", verification_id="vf_" + "1" * 32)
    hook_services.events.record(event)
    assert receiver.wait_for(lambda r: len(r.received) >= 1)
    hook_services.events.record(event)
    assert not receiver.wait_for(lambda r: len(r.received) >= 2, timeout_seconds=1.0)
    assert {"id": "vf_" + "1" * 32} == json.loads(receiver.received[0].body)["data"]
