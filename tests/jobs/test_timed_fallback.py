"""Timed channel fallback on the job queue: no approval in time, the next channel gets a code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import pytest
import redis
from flask import Flask

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel
from otp_service.services import Services
from otp_service.worker import start_worker
from tests.support import PHONE, CapturingSender, FakeClock, auth

#: The shortest delay a start may ask for: the test waits it out in real time.
AFTER_SECONDS = 10


@pytest.fixture(name="senders")
def _senders() -> dict[Channel, CapturingSender]:
    return {Channel.SMS: CapturingSender(), Channel.WHATSAPP: CapturingSender()}


@pytest.fixture(name="jobs_app")
def _jobs_app(
    settings: Settings,
    clock: FakeClock,
    senders: dict[Channel, CapturingSender],
    redis_client: redis.Redis,
) -> Iterator[Flask]:
    app = create_app(settings, clock=clock, senders=senders)
    worker = start_worker(cast(Services, app.extensions["otp_service"]), threads=2)
    yield app
    worker.stop()


def _start(app: Flask) -> str:
    body = {"to": PHONE, "channels": ["whatsapp", "sms"], "fallback_after_seconds": AFTER_SECONDS}
    response = app.test_client().post("/v1/verifications", json=body, headers=auth())
    assert 201 == response.status_code, response.get_json()
    return str(response.get_json()["id"])


def _wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.2)
    return False


def test_no_approval_in_time_falls_back_with_a_new_code(
    jobs_app: Flask, senders: dict[Channel, CapturingSender]
) -> None:
    """WhatsApp unanswered for 10 s: an SMS with a new code; only the SMS code approves."""
    verification_id = _start(jobs_app)
    whatsapp_code = senders[Channel.WHATSAPP].last_code(PHONE)
    assert _wait_for(lambda: senders[Channel.SMS].sent, AFTER_SECONDS + 20)
    sms_code = senders[Channel.SMS].last_code(PHONE)
    assert whatsapp_code != sms_code
    http = jobs_app.test_client()
    path = f"/v1/verifications/{verification_id}"
    assert ["whatsapp", "sms"] == [
        a["channel"] for a in http.get(path, headers=auth()).get_json()["send_attempts"]
    ]
    old = http.post(f"{path}/check", json={"code": whatsapp_code}, headers=auth()).get_json()
    assert (False, "pending") == (old["valid"], old["status"])
    new = http.post(f"{path}/check", json={"code": sms_code}, headers=auth()).get_json()
    assert "approved" == new["status"]


def test_an_approval_in_time_stops_the_timer(
    jobs_app: Flask, senders: dict[Channel, CapturingSender]
) -> None:
    """Approved before the delay: the timer finds nothing to do, no SMS is sent."""
    verification_id = _start(jobs_app)
    code = senders[Channel.WHATSAPP].last_code(PHONE)
    check = f"/v1/verifications/{verification_id}/check"
    response = jobs_app.test_client().post(check, json={"code": code}, headers=auth())
    assert "approved" == response.get_json()["status"]
    assert not _wait_for(lambda: senders[Channel.SMS].sent, AFTER_SECONDS + 5)
