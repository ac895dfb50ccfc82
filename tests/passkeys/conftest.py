"""A production-mode app for the passkey tests: RP id example.com, pages on login.example.com."""

from __future__ import annotations

import json

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from otp_service import create_app
from otp_service.config.settings import Settings
from tests.support import PEPPER, FakeClock, api_keys_json

RP_ID = "example.com"
ORIGIN = "https://login.example.com"


@pytest.fixture(name="passkey_settings")
def _passkey_settings(redis_url: str, prefix: str) -> Settings:
    return Settings.from_env(
        {
            "OTP_ENV": "production",
            "OTP_REDIS_URL": redis_url,
            "OTP_REDIS_PREFIX": prefix,
            "OTP_PEPPER": PEPPER.decode(),
            "OTP_API_KEYS": json.dumps(api_keys_json()),
            "OTP_EMAIL_PROVIDER": "smtp",
            "OTP_SMTP_HOST": "127.0.0.1",
            "OTP_EMAIL_FROM": "codes@example.com",
            "OTP_TOTP_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "OTP_WEBAUTHN_RP_ID": RP_ID,
            "OTP_WEBAUTHN_RP_NAME": "Example",
            "OTP_WEBAUTHN_ORIGINS": f"{ORIGIN},https://example.com",
        }
    )


@pytest.fixture(name="passkey_app")
def _passkey_app(passkey_settings: Settings, clock: FakeClock, redis_client: redis.Redis) -> Flask:
    return create_app(passkey_settings, clock=clock)


@pytest.fixture(name="pk_http")
def _pk_http(passkey_app: Flask) -> FlaskClient:
    return passkey_app.test_client()
