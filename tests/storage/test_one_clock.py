"""
One clock: expiry and cooldown are decided with Redis's TIME inside the scripts, so an app host
whose clock is minutes behind or ahead can neither accept an expired code nor skip a cooldown.
Real Redis, real system clock shifted by a fixed offset (what a badly set host clock is).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace

import pytest
from flask import Flask

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel, Policy, SystemClock
from tests.conftest import make_clients
from tests.support import Api, CapturingSender

FIVE_MINUTES_MS = 5 * 60 * 1000
SHORT_LIFE = Policy(code_ttl_seconds=2, resend_cooldown_seconds=60)


class SkewedClock(SystemClock):
    """This host's system clock, off by ``offset_ms``."""

    def __init__(self, offset_ms: int) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        """The system clock plus the offset."""
        return super().now_ms() + self.offset_ms


def host(settings: Settings, offset_ms: int, sender: CapturingSender) -> Api:
    """An app host with its clock off by ``offset_ms``, short-lived codes, a long cooldown."""
    settings = replace(settings, api_keys=make_clients(SHORT_LIFE))
    senders = {Channel.SMS: sender, Channel.EMAIL: sender}
    app: Flask = create_app(settings, clock=SkewedClock(offset_ms), senders=senders)
    return Api(app.test_client(), sender)


def phone() -> str:
    """A destination of this test's own."""
    return f"+1415557{secrets.randbelow(10_000):04d}"


@pytest.mark.parametrize(
    ("maker_offset_ms", "checker_offset_ms"),
    [(0, -FIVE_MINUTES_MS), (FIVE_MINUTES_MS, 0)],
    ids=["checked-on-a-host-behind", "made-on-a-host-ahead"],
)
def test_an_expired_code_is_refused_whatever_the_host_clocks(
    settings: Settings, maker_offset_ms: int, checker_offset_ms: int
) -> None:
    """A code (life 2 s) made on one host and checked 2.5 s later on another: refused."""
    sender = CapturingSender()
    verification_id, code = host(settings, maker_offset_ms, sender).started(phone())
    time.sleep(2.5)
    response = host(settings, checker_offset_ms, sender).check(verification_id, code)
    assert 404 == response.status_code, response.get_json()


@pytest.mark.parametrize("offset_ms", [-FIVE_MINUTES_MS, FIVE_MINUTES_MS], ids=["behind", "ahead"])
def test_a_cooldown_is_not_skipped_by_another_host(settings: Settings, offset_ms: int) -> None:
    """Started on a host with the right time; a resend at once from a host 5 minutes off: 429."""
    sender = CapturingSender()
    to = phone()
    host(settings, 0, sender).started(to)
    response = host(settings, offset_ms, sender).start(to)
    assert 429 == response.status_code, response.get_json()
    assert 1 == len(sender.sent)
