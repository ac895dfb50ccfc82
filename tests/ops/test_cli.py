"""
The ``otp-service`` command: ``check-config``, ``keys new`` and ``serve``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from otp_service.cli import main
from otp_service.config.settings import Settings
from otp_service.storage.embedded_redis import free_port
from tests.servers.topologies import wait_until
from tests.support import PEPPER, api_keys_json

PEPPER_TEXT = PEPPER.decode()
AUTH_TOKEN = "twilio-auth-token-do-not-print"
VALID_PRODUCTION = {
    "OTP_ENV": "production",
    "OTP_PEPPER": PEPPER_TEXT,
    "OTP_REDIS_URL": "redis+sentinel://:redis-password@10.0.0.1:26379,10.0.0.2:26379/otp",
    # Clients without the totp scope: with it, production also needs OTP_TOTP_ENCRYPTION_KEY.
    "OTP_API_KEYS": json.dumps([c for c in api_keys_json() if "totp" not in c["scopes"]]),
    "OTP_SMS_PROVIDER": "twilio",
    "OTP_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "OTP_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "OTP_TWILIO_FROM": "+15005550006",
}


class TestCheckConfig:
    """``otp-service check-config`` validates the environment as the app would."""

    def test_it_lists_every_problem_and_exits_1(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each problem of an invalid environment is one line of the error output."""
        monkeypatch.setenv("OTP_ENV", "production")
        monkeypatch.setenv("OTP_CODE_LENGTH", "3")
        monkeypatch.setenv("OTP_MAX_ATTEMPTS", "many")
        assert 1 == main(["check-config"])
        listed = [line.removeprefix("  - ") for line in capsys.readouterr().err.splitlines()[1:]]
        assert 6 == len(listed)
        for variable in ("OTP_CODE_LENGTH", "OTP_MAX_ATTEMPTS", "OTP_PEPPER", "OTP_API_KEYS"):
            assert any(variable in line for line in listed), variable
        assert any("OTP_REDIS_URL" in line for line in listed)
        assert any("no sender" in line for line in listed)

    def test_a_valid_environment_exits_0_without_secrets(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A valid production environment is confirmed; no secret is printed."""
        for name, value in VALID_PRODUCTION.items():
            monkeypatch.setenv(name, value)
        assert 0 == main(["check-config"])
        printed = capsys.readouterr()
        assert printed.out.startswith("configuration is valid (production)")
        secrets = [PEPPER_TEXT, AUTH_TOKEN, "redis-password"]
        assert [] == [secret for secret in secrets if secret in printed.out + printed.err]


class TestKeysNew:
    """``otp-service keys new`` makes a key and its ``OTP_API_KEYS`` entry."""

    def run(
        self, capsys: pytest.CaptureFixture[str], *arguments: str
    ) -> tuple[str, dict[str, object]]:
        assert 0 == main(["keys", "new", *arguments])
        out = capsys.readouterr().out
        key = out.splitlines()[1].strip()  # under "API key (shown once):"
        return key, json.loads(out.splitlines()[-1])

    def test_the_entry_holds_the_keys_sha256(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The entry stores only the SHA-256 of the printed key, with the name and scopes."""
        key, entry = self.run(capsys, "--name", "billing", "--scopes", "verifications:check")
        assert {
            "name": "billing",
            "key_sha256": hashlib.sha256(key.encode()).hexdigest(),
            "scopes": ["verifications:check"],
        } == entry

    def test_the_key_is_printed_once(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The key appears exactly once in the output (the entry has its hash only)."""
        assert 0 == main(["keys", "new", "--name", "web"])
        out = capsys.readouterr().out
        key = out.splitlines()[1].strip()  # under "API key (shown once):"
        assert len(key) >= 40
        assert 1 == out.count(key)

    def test_the_entry_is_a_valid_setting(
        self, capsys: pytest.CaptureFixture[str], redis_url: str
    ) -> None:
        """The printed entry, as OTP_API_KEYS, authenticates the printed key."""
        key, entry = self.run(capsys, "--name", "web")
        environ = {
            "OTP_ENV": "development",
            "OTP_REDIS_URL": redis_url,
            "OTP_API_KEYS": json.dumps([entry]),
        }
        [client] = Settings.from_env(environ).api_keys
        assert ("web", hashlib.sha256(key.encode()).hexdigest()) == (client.name, client.key_sha256)

    def test_an_unknown_scope_is_refused(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A misspelt scope exits 2 and prints no key."""
        assert 2 == main(["keys", "new", "--name", "web", "--scopes", "verifications:strat"])
        printed = capsys.readouterr()
        assert "" == printed.out
        assert "verifications:strat" in printed.err


@pytest.mark.gunicorn
def test_serve_runs_gunicorn_and_stops_on_sigterm(redis_url: str, tmp_path: Path) -> None:
    """``otp-service serve --bind ...`` answers /livez through gunicorn (found without the venv on
    PATH), and exits 0 on SIGTERM."""
    import requests

    port = free_port()
    bin_dir = Path(sys.executable).parent
    environ = {
        **{name: value for name, value in os.environ.items() if not name.startswith("OTP_")},
        "PATH": "/usr/bin:/bin",
        "OTP_ENV": "development",
        "OTP_REDIS_URL": redis_url,
        "OTP_PEPPER": PEPPER_TEXT,
        "OTP_API_KEYS": json.dumps(api_keys_json()),
        "OTP_WORKERS": "1",
        "OTP_THREADS": "2",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(bin_dir / "otp-service"), "serve", "--bind", f"127.0.0.1:{port}"],
        env=environ,
        stdout=log,
        stderr=log,
    )
    try:
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200,
            30,
            "gunicorn answers /livez",
        )
        process.send_signal(signal.SIGTERM)
        assert 0 == process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
