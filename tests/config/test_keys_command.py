"""``otp-service keys new``: what it prints works when pasted, as a list or as an entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from otp_service.app import create_app
from otp_service.config.settings import ConfigError, Settings
from tests.support import api_keys_json

PEPPER = "p" * 32


def _keys_new(*arguments: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTP_")}
    result = subprocess.run(
        [sys.executable, "-m", "otp_service.cli", "keys", "new", "--name", "web", *arguments],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def _production(redis_url: str, prefix: str, api_keys: str) -> dict[str, str]:
    return {
        "OTP_ENV": "production",
        "OTP_REDIS_URL": redis_url,
        "OTP_REDIS_PREFIX": prefix,
        "OTP_PEPPER": PEPPER,
        "OTP_API_KEYS": api_keys,
        "OTP_EMAIL_PROVIDER": "smtp",
        "OTP_SMTP_HOST": "127.0.0.1",
        "OTP_EMAIL_FROM": "codes@example.com",
        "OTP_TOTP_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "OTP_WEBAUTHN_RP_ID": "example.com",
    }


def _reads_with(settings: Settings, key: str) -> int:
    """The status of an authenticated read (404: authenticated, no such verification)."""
    http = create_app(settings).test_client()
    headers = {"Authorization": f"Bearer {key}"}
    return http.get("/v1/verifications/VEnothing", headers=headers).status_code


def _line_after(text: str, heading: str) -> str:
    lines = text.splitlines()
    return next(lines[i + 1] for i, line in enumerate(lines) if line.startswith(heading))


def test_the_printed_value_works_as_otp_api_keys(
    redis_url: str, prefix: str, redis_client: object
) -> None:
    """Pasted as OTP_API_KEYS, the value authenticates the printed key, and only it."""
    printed = _keys_new()
    key = _line_after(printed, "API key").strip()
    value = _line_after(printed, "OTP_API_KEYS with this key alone")
    settings = Settings.from_env(_production(redis_url, prefix, value))
    assert 404 == _reads_with(settings, key)
    assert 401 == _reads_with(settings, key + "x")


def test_the_entry_appends_to_an_existing_list(
    redis_url: str, prefix: str, redis_client: object
) -> None:
    """The entry, appended to a list that holds other clients, authenticates the new key."""
    printed = _keys_new()
    key = _line_after(printed, "API key").strip()
    entry = json.loads(_line_after(printed, "Or append this entry"))
    value = json.dumps([*api_keys_json(), entry])
    assert 404 == _reads_with(Settings.from_env(_production(redis_url, prefix, value)), key)


def test_json_for_scripts(redis_url: str, prefix: str, redis_client: object) -> None:
    """--json: one object with the key, the variable's value and the entry."""
    printed = json.loads(_keys_new("--json", "--scopes", "verifications:start"))
    assert {"api_key", "otp_api_keys", "entry"} == set(printed)
    assert [printed["entry"]] == json.loads(printed["otp_api_keys"])
    assert ["verifications:start"] == printed["entry"]["scopes"]
    settings = Settings.from_env(_production(redis_url, prefix, printed["otp_api_keys"]))
    assert 404 == _reads_with(settings, printed["api_key"])


def test_a_single_object_is_one_clear_problem() -> None:
    """Not 'Input should be a valid list' plus a contradictory 'OTP_API_KEYS missing'."""
    entry = json.dumps(api_keys_json()[0])
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(_production("redis://127.0.0.1:6379/0", "otp", entry))
    assert [
        "OTP_API_KEYS must be a JSON list, [ ... ], of entries (got one object: wrap it in [ ])"
    ] == raised.value.problems
