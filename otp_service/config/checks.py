"""The rules settings obey as a whole: what one variable needs of another, and production's."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from otp_service.config.jobs import jobs_problems
from otp_service.core.models import Scope
from otp_service.storage.urls import host_problem, http_url_problem, redis_url_problem

if TYPE_CHECKING:
    from otp_service.config.settings import Settings


def problems_of(s: Settings, found: list[str]) -> list[str]:
    """What is wrong with ``s`` as a whole, given the problems ``found`` in its single values."""
    problems = _provider_problems(s) + _redis_problems(s)
    if s.env == "production":
        problems += _production_problems(s, found)
    elif not s.redis_url:
        problems.append("OTP_REDIS_URL missing (`otp-service dev` starts a Redis for you)")
    problems += jobs_problems(s)
    return problems + _dev_api_key_problems(s) + _url_problems(s) + _webauthn_problems(s)


def _provider_problems(s: Settings) -> list[str]:
    problems: list[str] = []
    if s.sms_provider == "twilio":
        problems += [
            f"OTP_{name.upper()} is required with OTP_SMS_PROVIDER=twilio"
            for name in ("twilio_account_sid", "twilio_auth_token")
            if not getattr(s, name)
        ]
        if not (s.twilio_from or s.twilio_messaging_service_sid):
            problems.append(
                "OTP_TWILIO_FROM or OTP_TWILIO_MESSAGING_SERVICE_SID is required with "
                "OTP_SMS_PROVIDER=twilio"
            )
    if s.twilio_whatsapp_from and not s.twilio_whatsapp_content_sid:
        problems.append(
            "OTP_TWILIO_WHATSAPP_CONTENT_SID (an approved authentication template) is required "
            "with OTP_TWILIO_WHATSAPP_FROM: WhatsApp refuses free-text codes"
        )
    if s.email_provider == "smtp":
        problems += [
            f"OTP_{name.upper()} is required with OTP_EMAIL_PROVIDER=smtp"
            for name in ("smtp_host", "email_from")
            if not getattr(s, name)
        ]
    return problems


def _redis_problems(s: Settings) -> list[str]:
    wait_timeout_ms = s.redis_wait_timeout_ms
    if wait_timeout_ms is not None and wait_timeout_ms >= s.redis_timeout_seconds * 1000:
        return [
            "OTP_REDIS_WAIT_TIMEOUT_MS must be below OTP_REDIS_TIMEOUT_SECONDS (in ms), or a"
            " slow acknowledgement is a socket timeout"
        ]
    return []


def _url_problems(s: Settings) -> list[str]:
    """Every URL and host setting, by the rules the code that uses it applies."""
    found = [
        redis_url_problem(s.redis_url) if s.redis_url else None,
        http_url_problem(s.twilio_api_base, "OTP_TWILIO_API_BASE") if s.twilio_api_base else None,
        http_url_problem(s.public_base_url, "OTP_PUBLIC_BASE_URL") if s.public_base_url else None,
        host_problem(s.smtp_host, "OTP_SMTP_HOST") if s.smtp_host else None,
    ]
    return [problem for problem in found if problem is not None]


def _dev_api_key_problems(s: Settings) -> list[str]:
    if not s.dev_api_key:
        return []
    if not s.is_development:
        return ["OTP_DEV_API_KEY is for development only (the /try page)"]
    if hashlib.sha256(s.dev_api_key.encode()).hexdigest() not in {
        client.key_sha256 for client in s.api_keys
    }:
        return ["OTP_DEV_API_KEY is not one of the keys in OTP_API_KEYS"]
    return []


def _production_problems(s: Settings, found: list[str]) -> list[str]:
    problems: list[str] = []
    if not s.pepper:
        problems.append("OTP_PEPPER missing (required in production)")
    if not s.api_keys and not any(p.startswith("OTP_API_KEYS") for p in found):
        problems.append("OTP_API_KEYS missing (required in production)")
    if not s.redis_url:
        problems.append("OTP_REDIS_URL missing (required in production)")
    if "dev" in (s.sms_provider, s.email_provider):
        problems.append("the dev sender cannot be used in production")
    if s.sms_provider == "none" and s.email_provider == "none":
        problems.append(
            "no sender configured: set OTP_SMS_PROVIDER=twilio and/or OTP_EMAIL_PROVIDER=smtp"
        )
    if s.argon2_profile == "test":
        problems.append("OTP_ARGON2_PROFILE=test is for tests only, not production")
    if not s.totp_encryption_keys and any(Scope.TOTP in c.scopes for c in s.api_keys):
        problems.append(
            "OTP_TOTP_ENCRYPTION_KEY missing (required in production when a key has the "
            "totp scope: it encrypts TOTP secrets at rest)"
        )
    if not s.webauthn_rp_id and any(Scope.PASSKEYS in c.scopes for c in s.api_keys):
        problems.append(
            "OTP_WEBAUTHN_RP_ID missing (required in production when a key has the passkeys "
            "scope: the domain passkeys are scoped to)"
        )
    return problems


def _webauthn_problems(s: Settings) -> list[str]:
    """Every allowed origin must be the RP id's host or one of its subdomains (WebAuthn's rule)."""
    problems = []
    rp_id = s.webauthn_rp_id
    for origin in s.webauthn_origins:
        host = (urlsplit(origin).hostname or "").lower()
        if rp_id and host != rp_id and not host.endswith("." + rp_id):
            problems.append(
                f"OTP_WEBAUTHN_ORIGINS: {origin} is not on OTP_WEBAUTHN_RP_ID {rp_id} "
                "or one of its subdomains"
            )
        elif urlsplit(origin).scheme != "https" and host != "localhost":
            problems.append(f"OTP_WEBAUTHN_ORIGINS: {origin} must be https (but on localhost)")
    return problems
