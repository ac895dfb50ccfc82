"""Settings from OTP_* variables, validated as a whole (docs/configuration.md)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from otp_service.config.settings import ConfigError, Settings
from tests.support import api_keys_json

PEPPER = "p" * 32
REPO = Path(__file__).resolve().parents[2]
#: Read by gunicorn's configuration (otp_service/server/gunicorn_config.py), not by Settings.
GUNICORN_VARIABLES = ("OTP_BIND", "OTP_WORKERS", "OTP_THREADS", "OTP_FORWARDED_ALLOW_IPS")
VARIABLES = [f"OTP_{f.name.upper()}" for f in dataclasses.fields(Settings)] + list(
    GUNICORN_VARIABLES
)


def _production(**overrides: str) -> dict[str, str]:
    environ = {
        "OTP_ENV": "production",
        "OTP_REDIS_URL": "redis://:hunter2@127.0.0.1:6379/0",
        "OTP_PEPPER": PEPPER,
        "OTP_API_KEYS": json.dumps(api_keys_json()),
        "OTP_EMAIL_PROVIDER": "smtp",
        "OTP_SMTP_HOST": "smtp.example.com",
        "OTP_EMAIL_FROM": "codes@example.com",
        "OTP_TOTP_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "OTP_WEBAUTHN_RP_ID": "example.com",
    }
    environ.update(overrides)
    return {k: v for k, v in environ.items() if v != "<unset>"}


class TestDefaults:
    def test_production_is_the_default_environment(self) -> None:
        """Without OTP_ENV the service is in production, with the peers' defaults."""
        settings = Settings.from_env(_production(OTP_ENV="<unset>"))
        assert "production" == settings.env
        assert (6, 600, 5, 5, 30) == (
            settings.code_length,
            settings.code_ttl_seconds,
            settings.max_attempts,
            settings.max_sends,
            settings.resend_cooldown_seconds,
        )
        assert "otp" == settings.argon2_profile

    def test_development_fills_in_a_random_pepper(self) -> None:
        """Development needs no pepper: a random one is made."""
        settings = Settings.from_env({"OTP_ENV": "development", "OTP_REDIS_URL": "redis://x"})
        assert 32 == len(settings.pepper)
        assert ("dev", "dev") == (settings.sms_provider, settings.email_provider)


class TestProductionRefusals:
    def test_production_lists_every_missing_setting_at_once(self) -> None:
        """Pepper, API keys, Redis URL and a real sender: all problems in one error."""
        with pytest.raises(ConfigError) as raised:
            Settings.from_env({"OTP_ENV": "production"})
        problems = " | ".join(raised.value.problems)
        for expected in ("OTP_PEPPER", "OTP_API_KEYS", "OTP_REDIS_URL", "no sender configured"):
            assert expected in problems

    def test_dev_sender_is_refused_in_production(self) -> None:
        """OTP_SMS_PROVIDER=dev cannot be used in production."""
        with pytest.raises(ConfigError, match="dev sender"):
            Settings.from_env(_production(OTP_SMS_PROVIDER="dev"))

    def test_test_argon2_profile_is_refused_in_production(self) -> None:
        """The cheapest argon2 profile is for tests only."""
        with pytest.raises(ConfigError, match="OTP_ARGON2_PROFILE"):
            Settings.from_env(_production(OTP_ARGON2_PROFILE="test"))

    def test_short_pepper_is_refused(self) -> None:
        """A pepper under 32 bytes is refused."""
        with pytest.raises(ConfigError, match="at least 32 bytes"):
            Settings.from_env(_production(OTP_PEPPER="short"))


class TestValidation:
    def test_every_bad_value_is_reported(self) -> None:
        """Several bad values give several problems, each naming its variable and value."""
        with pytest.raises(ConfigError) as raised:
            Settings.from_env(
                _production(
                    OTP_CODE_LENGTH="abc",
                    OTP_MAX_ATTEMPTS="0",
                    OTP_SMTP_TLS="maybe",
                    OTP_ARGON2_PROFILE="fast",
                )
            )
        problems = raised.value.problems
        assert 4 == len(problems)
        assert "OTP_CODE_LENGTH must be an integer (got 'abc')" in problems

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("not json", "not JSON"),
            ('[{"name": "a"}]', "key_sha256"),
            ('[{"name": "a", "key_sha256": "00", "scopes": ["x"]}]', "scopes"),
        ],
    )
    def test_api_keys_are_validated(self, value: str, expected: str) -> None:
        """OTP_API_KEYS problems say what is wrong where."""
        with pytest.raises(ConfigError, match=expected):
            Settings.from_env(_production(OTP_API_KEYS=value))

    def test_client_policy_overrides_the_defaults(self) -> None:
        """A client's policy overrides only what it names."""
        keys = api_keys_json()
        keys[0]["policy"] = {"code_length": 8, "channels": ["email"]}
        settings = Settings.from_env(_production(OTP_API_KEYS=json.dumps(keys)))
        policy = settings.api_keys[0].policy
        assert (8, 5) == (policy.code_length, policy.max_attempts)
        assert {"email"} == {channel.value for channel in policy.channels}

    def test_twilio_needs_its_credentials(self) -> None:
        """OTP_SMS_PROVIDER=twilio without credentials lists each missing one."""
        with pytest.raises(ConfigError) as raised:
            Settings.from_env(_production(OTP_SMS_PROVIDER="twilio"))
        problems = " | ".join(raised.value.problems)
        assert "OTP_TWILIO_ACCOUNT_SID" in problems
        assert "OTP_TWILIO_FROM or OTP_TWILIO_MESSAGING_SERVICE_SID" in problems


class TestSecrets:
    def test_secrets_can_come_from_files(self, tmp_path: Path) -> None:
        """OTP_PEPPER_FILE is read (trailing newline dropped)."""
        secret = tmp_path / "pepper"
        secret.write_text("f" * 40 + "\n")
        settings = Settings.from_env(_production(OTP_PEPPER="<unset>", OTP_PEPPER_FILE=str(secret)))
        assert b"f" * 40 == settings.pepper

    def test_unreadable_secret_file_is_a_problem(self, tmp_path: Path) -> None:
        """A secret file that cannot be read is reported, not ignored."""
        with pytest.raises(ConfigError, match="OTP_PEPPER_FILE cannot be read"):
            Settings.from_env(_production(OTP_PEPPER_FILE=str(tmp_path / "missing")))

    def test_repr_redacts_secrets_and_redis_password(self) -> None:
        """The repr never shows the pepper, API keys or the Redis password."""
        text = repr(Settings.from_env(_production()))
        assert PEPPER not in text
        assert "hunter2" not in text
        assert "pepper=<redacted>" in text


class TestDocumented:
    @pytest.mark.parametrize("variable", VARIABLES)
    def test_every_variable_is_in_the_configuration_reference(self, variable: str) -> None:
        """Each variable has its row in docs/configuration.md's table."""
        reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
        rows = [line for line in reference.splitlines() if line.startswith("| `OTP_")]
        assert any(f"`{variable}`" in row.split(" | ")[0] for row in rows)

    @pytest.mark.parametrize("variable", VARIABLES)
    def test_every_variable_is_in_the_production_example(self, variable: str) -> None:
        """deploy/.env.example lists each variable, set or commented out with its default."""
        example = (REPO / "deploy" / ".env.example").read_text(encoding="utf-8")
        assert re.search(rf"^(# )?{variable}=", example, flags=re.MULTILINE)


class TestAcknowledgedWriteSettings:
    """The WAIT settings: read, left to the topology when unset, checked against the timeout."""

    def test_unset_they_are_left_to_the_topology(self) -> None:
        """Unset: None (1 replica on Sentinel and Cluster, 0 on one server; 500 ms at most)."""
        settings = Settings.from_env(_production())
        assert (None, None) == (settings.redis_wait_replicas, settings.redis_wait_timeout_ms)

    def test_they_are_read(self) -> None:
        """Set: the numbers given."""
        environ = _production(OTP_REDIS_WAIT_REPLICAS="2", OTP_REDIS_WAIT_TIMEOUT_MS="300")
        settings = Settings.from_env(environ)
        assert (2, 300) == (settings.redis_wait_replicas, settings.redis_wait_timeout_ms)

    def test_a_wait_as_long_as_the_redis_timeout_is_refused(self) -> None:
        """A WAIT that outlasts the socket timeout would be a timeout, not a 503 on too few."""
        environ = _production(OTP_REDIS_WAIT_TIMEOUT_MS="2000")
        with pytest.raises(ConfigError, match="OTP_REDIS_WAIT_TIMEOUT_MS must be below"):
            Settings.from_env(environ)
