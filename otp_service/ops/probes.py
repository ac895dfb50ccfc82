"""
``check-config --probe``: reach each dependency the settings name, one line per dependency.

Redis is probed through ``/readyz`` (PING, scripts, persistence: what the service itself sees);
SMTP with a handshake that sends nothing; Twilio with one authenticated read of the account.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from otp_service.config.settings import Settings, redact_url
from otp_service.core.errors import DeliveryFailed
from otp_service.delivery import fetch_account_status, smtp_sender

#: The body of ``GET /readyz`` (``ok``, ``failing``, ``warnings``).
Readiness = Callable[[], Mapping[str, Any]]
OK: Final = "ok"
FAIL: Final = "FAIL"
SKIP: Final = "skip"
#: ``/readyz`` check names as the probe line says them (others are shown as they are).
_CHECK_WORDS: Final = {"redis": "PING", "scripts": "scripts loaded", "persistence": "AOF on"}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one dependency answered."""

    name: str
    status: str
    text: str

    def __str__(self) -> str:
        return f"{self.name:<7}{self.status:<6}{self.text}"


def probe_redis(settings: Settings, readiness: Readiness) -> ProbeResult:
    """Redis as ``/readyz`` sees it: PING, scripts loaded, persistence (and any other check)."""
    body = readiness()
    where = redact_url(settings.redis_url)
    failing: Mapping[str, str] = body.get("failing", {})
    if failing:
        reasons = "; ".join(f"{check}: {why}" for check, why in failing.items())
        return ProbeResult("redis", FAIL, f"{where}: {reasons}")
    text = f"{where}: " + ", ".join(_CHECK_WORDS.get(check, check) for check in body.get("ok", []))
    warnings: Mapping[str, str] = body.get("warnings", {})
    if warnings:
        text += " (warning: " + "; ".join(warnings.values()) + ")"
    return ProbeResult("redis", OK, text)


def probe_smtp(settings: Settings) -> ProbeResult:
    """Connect, EHLO, STARTTLS and AUTH as a send would; nothing is sent."""
    if settings.email_provider != "smtp":
        return ProbeResult("smtp", SKIP, f"OTP_EMAIL_PROVIDER is {settings.email_provider}")
    sender = smtp_sender(settings)
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    steps: list[str] = []
    try:
        sender.handshake(steps)
    except (smtplib.SMTPException, OSError) as error:
        passed = f" after {', '.join(steps)}" if steps else " at connect"
        return ProbeResult("smtp", FAIL, f"{where}: failed{passed}: {_reason(error)}")
    return ProbeResult("smtp", OK, f"{where}: {', '.join(steps)} (nothing sent)")


def probe_twilio(settings: Settings) -> ProbeResult:
    """One authenticated read-only request: fetch the Account resource."""
    if settings.sms_provider != "twilio":
        return ProbeResult("twilio", SKIP, f"OTP_SMS_PROVIDER is {settings.sms_provider}")
    where = settings.twilio_api_base or "https://api.twilio.com"
    account = settings.twilio_account_sid
    try:
        status = fetch_account_status(settings)
    except DeliveryFailed as error:
        return ProbeResult("twilio", FAIL, f"{where}: account {account}: {error.detail}")
    return ProbeResult("twilio", OK, f"{where}: account {account} is {status}")


def probe_all(settings: Settings, readiness: Readiness) -> list[ProbeResult]:
    """Every dependency, in order: Redis, SMTP, Twilio."""
    return [probe_redis(settings, readiness), probe_smtp(settings), probe_twilio(settings)]


def _reason(error: BaseException) -> str:
    """One line saying why, without the request's secrets."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}".splitlines()[0]


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
