"""
``otp-service check-config`` (and ``--probe``) and ``serve``: a configuration that would break
later is refused now, one line per problem, with the rules the runtime applies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otp_service.config.settings import ConfigError, Settings
from otp_service.storage.connection import connect
from otp_service.storage.embedded_redis import EmbeddedRedis, free_port
from otp_service.storage.urls import REDIS_URL_SCHEMES
from tests.servers.smtp import Mailbox, SmtpServer
from tests.servers.tls import Certificate, make_certificate
from tests.support import api_keys_json

ACCEPTED = "redis://, rediss://, unix://, redis+sentinel://, redis+cluster://"
SMTP_LOGIN = ("mailer", "s3cret-password")


def _production(**overrides: str) -> dict[str, str]:
    environ = {
        "OTP_ENV": "production",
        "OTP_REDIS_URL": "redis://127.0.0.1:6379/0",
        "OTP_PEPPER": "p" * 32,
        "OTP_API_KEYS": json.dumps(api_keys_json()),
        "OTP_EMAIL_PROVIDER": "smtp",
        "OTP_SMTP_HOST": "127.0.0.1",
        "OTP_EMAIL_FROM": "codes@example.com",
        "OTP_TOTP_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "OTP_WEBAUTHN_RP_ID": "example.com",
    }
    return {**environ, **overrides}


def _problems(**overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(_production(**overrides))
    return raised.value.problems


def _cli(*arguments: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("OTP_")}
    return subprocess.run(
        [sys.executable, "-m", "otp_service.cli", *arguments],
        env={**inherited, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestUrls:
    def test_one_list_of_schemes(self) -> None:
        """The schemes the settings accept are the ones the README's Redis section names."""
        assert ACCEPTED == ", ".join(f"{scheme}://" for scheme in REDIS_URL_SCHEMES)

    @pytest.mark.parametrize("url", ["127.0.0.1:6379", "http://127.0.0.1:6379", "localhost"])
    def test_a_redis_url_without_a_redis_scheme_is_one_problem(self, url: str) -> None:
        """One line, naming the variable, the value and every accepted scheme."""
        assert [f"OTP_REDIS_URL must start with one of {ACCEPTED} (got {url!r})"] == _problems(
            OTP_REDIS_URL=url
        )

    def test_the_runtime_refuses_it_with_the_same_line(self) -> None:
        """connect() applies the same rule, so the two cannot drift apart."""
        with pytest.raises(ValueError, match=r"^OTP_REDIS_URL must start with") as raised:
            connect("127.0.0.1:6379", 1.0)
        assert _problems(OTP_REDIS_URL="127.0.0.1:6379") == [str(raised.value)]

    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("redis://127.0.0.1:notaport/0", "port that is not a number"),
            ("redis://:pw@/0", "names no host"),
            ("redis://127.0.0.1:6379/cache", "not a number"),
            ("unix://", "no socket path"),
            ("redis+sentinel://127.0.0.1:26379", "/<service name>"),
            ("redis+cluster://127.0.0.1", "host:port pairs"),
            ("redis+cluster://127.0.0.1:7000/0", "takes no path"),
        ],
    )
    def test_host_port_and_path_are_checked(self, url: str, expected: str) -> None:
        """What the runtime would trip over later is one problem now."""
        problems = _problems(OTP_REDIS_URL=url)
        assert 1 == len(problems)
        assert expected in problems[0]
        assert problems[0].startswith("OTP_REDIS_URL ")

    def test_a_password_is_not_shown(self) -> None:
        """The problem quotes the URL without its password."""
        (problem,) = _problems(OTP_REDIS_URL="redis://:hunter2@127.0.0.1:notaport/0")
        assert "hunter2" not in problem

    @pytest.mark.parametrize(
        "url",
        [
            "redis://127.0.0.1:6379/0",
            "rediss://user:pw@127.0.0.1:6380",
            "unix:///run/redis/redis.sock",
            "redis+sentinel://:pw@127.0.0.1:26379,127.0.0.1:26380/mymaster",
            "redis+cluster://127.0.0.1:7000,127.0.0.1:7001",
        ],
    )
    def test_every_documented_form_is_accepted(self, url: str) -> None:
        """The forms of the README's Redis section pass, and make a client (which does no I/O)."""
        assert url == Settings.from_env(_production(OTP_REDIS_URL=url)).redis_url
        assert connect(url, 1.0) is not None

    @pytest.mark.parametrize(
        ("name", "value", "expected"),
        [
            ("OTP_TWILIO_API_BASE", "api.twilio.com", "must start with one of http://, https://"),
            ("OTP_TWILIO_API_BASE", "https://:443", "names no host"),
            ("OTP_PUBLIC_BASE_URL", "otp.example.com", "must start with one of http://"),
            ("OTP_PUBLIC_BASE_URL", "https://otp.example.com:99999", "port that is not"),
            ("OTP_SMTP_HOST", "smtp://mail.example.com", "host name or address only"),
            ("OTP_SMTP_HOST", "mail.example.com:587", "must not carry a port"),
        ],
    )
    def test_other_url_settings(self, name: str, value: str, expected: str) -> None:
        """Twilio's base, the public base URL and the SMTP host are checked the same way."""
        problems = _problems(**{name: value})
        assert 1 == len(problems)
        assert problems[0].startswith(name)
        assert expected in problems[0]


class TestCommands:
    def test_check_config_refuses_a_redis_url_without_scheme(self) -> None:
        """Exit 1 and one line per problem; not 'configuration is valid'."""
        result = _cli("check-config", environ=_production(OTP_REDIS_URL="127.0.0.1:6379"))
        assert 1 == result.returncode
        assert "" == result.stdout
        assert (
            "configuration is not valid:\n"
            f"  - OTP_REDIS_URL must start with one of {ACCEPTED} (got '127.0.0.1:6379')\n"
        ) == result.stderr

    def test_serve_refuses_a_bad_configuration_without_a_traceback(self) -> None:
        """serve prints what check-config prints and starts no gunicorn."""
        environ = _production(OTP_REDIS_URL="http://127.0.0.1:6379", OTP_BIND="127.0.0.1:1")
        served = _cli("serve", environ=environ)
        checked = _cli("check-config", environ=environ)
        assert 1 == served.returncode
        assert checked.stderr == served.stderr
        assert "Traceback" not in served.stderr
        assert "Worker failed to boot" not in served.stdout + served.stderr

    def test_gunicorn_with_the_shipped_configuration_refuses_it_too(self) -> None:
        """The image's command (gunicorn -c gunicorn.conf.py) stops before any worker boots."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("OTP_")}
        environ = _production(OTP_REDIS_URL="127.0.0.1:6379", OTP_BIND=f"127.0.0.1:{free_port()}")
        result = subprocess.run(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=Path(__file__).resolve().parents[2],
            env={**inherited, **environ},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert 1 == result.returncode
        assert _cli("check-config", environ=environ).stderr == result.stderr
        assert "Traceback" not in result.stdout
        assert "Booting worker" not in result.stdout

    def test_serve_help_shows_the_services_defaults(self) -> None:
        """Not gunicorn's 127.0.0.1:8000 and one sync worker."""
        result = _cli("serve", "--help", environ={"OTP_WORKERS": "3"})
        assert 0 == result.returncode
        lines = [line.split() for line in result.stdout.splitlines()]
        assert ["--bind", "0.0.0.0:8000"] == lines[6][:2]
        assert ["--workers", "3"] == lines[7][:2]
        assert ["--worker-class", "gthread"] == lines[8][:2]
        assert ["--threads", "8"] == lines[9][:2]


@pytest.fixture(name="certificate", scope="module")
def _certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


class TestProbe:
    def _environ(self, redis_url: str, smtp_port: int, certificate: Certificate) -> dict[str, str]:
        return {
            **_production(
                OTP_REDIS_URL=redis_url,
                OTP_SMTP_PORT=str(smtp_port),
                OTP_SMTP_USERNAME=SMTP_LOGIN[0],
                OTP_SMTP_PASSWORD=SMTP_LOGIN[1],
                OTP_DELIVERY_TIMEOUT_SECONDS="5",
                OTP_REDIS_TIMEOUT_SECONDS="1",
            ),
            # The probe trusts what a send trusts: the system's CAs, here the test's own.
            "SSL_CERT_FILE": str(certificate.cert_path),
        }

    def test_every_dependency_answers(self, certificate: Certificate) -> None:
        """Redis as /readyz sees it; SMTP through STARTTLS and AUTH, and nothing sent."""
        mailbox = Mailbox()
        with (
            EmbeddedRedis() as redis_server,
            SmtpServer(
                mailbox, tls="starttls", certificate=certificate, credentials=SMTP_LOGIN
            ) as smtp,
        ):
            result = _cli(
                "check-config",
                "--probe",
                environ=self._environ(redis_server.url, smtp.port, certificate),
            )
        assert 0 == result.returncode, result.stdout + result.stderr
        probes = result.stdout.splitlines()[1:]
        assert probes[0].startswith(f"redis  ok    {redis_server.url}: PING, scripts loaded")
        assert "persistence is off" in probes[0]
        assert (
            f"smtp   ok    127.0.0.1:{smtp.port}: connect, EHLO, STARTTLS, AUTH (nothing sent)"
            == probes[1]
        )
        assert "twilio skip  OTP_SMS_PROVIDER is none" == probes[2]
        assert [] == mailbox.envelopes

    def test_a_stopped_redis_and_a_wrong_smtp_port_fail(self, certificate: Certificate) -> None:
        """Each failing dependency is one FAIL line; the exit status is 1."""
        redis_server = EmbeddedRedis().start()
        redis_server.stop()
        closed_port = free_port()
        result = _cli(
            "check-config",
            "--probe",
            environ=self._environ(redis_server.url, closed_port, certificate),
        )
        assert 1 == result.returncode
        probes = result.stdout.splitlines()[1:]
        assert f"redis  FAIL  {redis_server.url}: redis: Redis does not answer" == probes[0]
        assert probes[1].startswith(f"smtp   FAIL  127.0.0.1:{closed_port}: failed at connect: ")
        assert "Connection refused" in probes[1]
        assert "Traceback" not in result.stderr

    def test_a_bad_configuration_is_not_probed(self, tmp_path: Path) -> None:
        """Problems first: nothing is reached with a configuration that is not valid."""
        result = _cli("check-config", "--probe", environ=_production(OTP_REDIS_URL="localhost"))
        assert 1 == result.returncode
        assert "" == result.stdout
