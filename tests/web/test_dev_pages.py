"""The dev pages (/try, /dev/outbox) through Flask's test client; tests/browser drives them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient

from otp_service import create_app
from otp_service.config.settings import ConfigError, Settings
from otp_service.storage.embedded_redis import free_port
from tests.support import EMAIL, KEYS, PHONE, api_keys_json, auth

DEV_PATHS = ["/try", "/dev/outbox", "/dev/outbox.json"]


@pytest.fixture(name="dev_app")
def _dev_app(settings: Settings, redis_client: redis.Redis) -> Flask:
    """The app with its real dev sender (the outbox), and the acme key as the dev key."""
    return create_app(replace(settings, dev_api_key=KEYS["acme"]))


@pytest.fixture(name="dev_http")
def _dev_http(dev_app: Flask) -> FlaskClient:
    return dev_app.test_client()


def _start(http: FlaskClient, to: str, channel: str) -> str:
    response = http.post("/v1/verifications", json={"to": to, "channel": channel}, headers=auth())
    assert 201 == response.status_code, response.get_json()
    return str(response.get_json()["id"])


class _Elements(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


class TestOnlyInDevelopment:
    @pytest.mark.parametrize("path", DEV_PATHS)
    def test_served_in_development(self, dev_http: FlaskClient, path: str) -> None:
        """Each dev page answers 200 when OTP_ENV=development."""
        assert 200 == dev_http.get(path).status_code

    @pytest.mark.parametrize("path", DEV_PATHS)
    def test_not_found_in_production(
        self, settings: Settings, redis_client: redis.Redis, path: str
    ) -> None:
        """In production the dev routes do not exist: a problem+json 404."""
        production = replace(settings, env="production", sms_provider="none", email_provider="none")
        response = create_app(production).test_client().get(path)
        assert (404, "application/problem+json") == (response.status_code, response.mimetype)


class TestOutboxJson:
    def test_newest_first(self, dev_http: FlaskClient) -> None:
        """/dev/outbox.json lists the latest message first."""
        first = _start(dev_http, PHONE, "sms")
        second = _start(dev_http, EMAIL, "email")
        messages = dev_http.get("/dev/outbox.json").get_json()["messages"]
        assert [second, first] == [message["verification_id"] for message in messages]


class TestOutboxPage:
    def test_cards_are_newest_first(self, dev_http: FlaskClient) -> None:
        """The server-rendered page lists the latest message first."""
        first = _start(dev_http, PHONE, "sms")
        second = _start(dev_http, EMAIL, "email")
        html = dev_http.get("/dev/outbox").get_data(as_text=True)
        assert [second, first] == re.findall(r'data-verification-id="([^"]+)"', html)

    def test_email_body_is_in_a_sandboxed_iframe(self, dev_http: FlaskClient) -> None:
        """An email shows its subject, and its HTML only inside a sandboxed srcdoc iframe."""
        _start(dev_http, EMAIL, "email")
        message = dev_http.get("/dev/outbox.json").get_json()["messages"][0]
        html = dev_http.get("/dev/outbox").get_data(as_text=True)
        frames = [attrs for tag, attrs in _tags(html) if tag == "iframe"]
        assert [("", message["html"])] == [(f["sandbox"], f["srcdoc"]) for f in frames]
        assert f"Subject: <strong>{message['subject']}</strong>" in html
        assert '<p style="font-size: 28px' not in html  # the email's own markup stays escaped

    def test_sms_text_is_shown(self, dev_http: FlaskClient) -> None:
        """An SMS shows its text as the phone would."""
        _start(dev_http, PHONE, "sms")
        message = dev_http.get("/dev/outbox.json").get_json()["messages"][0]
        html = dev_http.get("/dev/outbox").get_data(as_text=True)
        assert f'<p class="sms-text">{message["text"]}</p>' in html

    def test_polls_instead_of_reloading(self, dev_http: FlaskClient) -> None:
        """No meta refresh (it would steal focus); the page's script polls the JSON instead."""
        html = dev_http.get("/dev/outbox").get_data(as_text=True)
        assert 'http-equiv="refresh"' not in html
        assert 'fetch("/dev/outbox.json"' in html


class TestSecurityHeaders:
    @pytest.mark.parametrize("path", ["/try", "/dev/outbox"])
    def test_scripts_need_the_response_nonce(self, dev_http: FlaskClient, path: str) -> None:
        """Each page's CSP allows only scripts carrying that response's nonce, and every
        script tag carries it."""
        response = dev_http.get(path)
        policy = response.headers["Content-Security-Policy"]
        nonce = re.search(r"script-src 'nonce-([^']+)'", policy)
        assert nonce is not None, policy
        scripts = [
            attrs for tag, attrs in _tags(response.get_data(as_text=True)) if tag == "script"
        ]
        assert [nonce.group(1)] == [attrs.get("nonce") for attrs in scripts]


class TestOutboxOnlyOnLoopback:
    @pytest.mark.parametrize("path", ["/dev/outbox", "/dev/outbox.json"])
    def test_rebound_host_cannot_read_the_outbox(self, dev_http: FlaskClient, path: str) -> None:
        """A page whose DNS name was rebound to 127.0.0.1 gets 404, not the codes."""
        _start(dev_http, EMAIL, "email")
        assert 404 == dev_http.get(path, base_url="http://rebound.example:8000").status_code
        assert 200 == dev_http.get(path, base_url="http://localhost:8000").status_code

    def test_other_peers_cannot_read_the_outbox(self, dev_http: FlaskClient) -> None:
        """A peer that is not on the loopback gets 404, whatever Host it sends."""
        response = dev_http.get(
            "/dev/outbox.json",
            base_url="http://127.0.0.1:8000",
            environ_base={"REMOTE_ADDR": "192.168.1.20"},
        )
        assert 404 == response.status_code


class TestTryPage:
    def _api_key_value(self, html: str) -> str | None:
        (attrs,) = [attrs for tag, attrs in _tags(html) if attrs.get("id") == "api-key"]
        return attrs.get("value")

    def test_prefills_the_dev_key_on_a_loopback_host(self, dev_http: FlaskClient) -> None:
        """Opened as 127.0.0.1, the API key field holds the key `otp-service dev` made."""
        response = dev_http.get("/try", base_url="http://127.0.0.1:8000")
        assert KEYS["acme"] == self._api_key_value(response.get_data(as_text=True))

    @pytest.mark.parametrize("host", ["rebound.example:8000", "192.168.1.20:8000"])
    def test_never_prefills_the_key_for_other_hosts(self, dev_http: FlaskClient, host: str) -> None:
        """A page reached by another name (DNS rebinding, a LAN address) gets no key."""
        response = dev_http.get("/try", base_url=f"http://{host}")
        html = response.get_data(as_text=True)
        assert ("", False) == (self._api_key_value(html), KEYS["acme"] in html)

    def test_forwarded_host_does_not_unlock_the_key(
        self, settings: Settings, redis_client: redis.Redis
    ) -> None:
        """Behind a proxy fix, X-Forwarded-Host: localhost does not make a rebound name loopback."""
        app = create_app(replace(settings, dev_api_key=KEYS["acme"], trusted_proxies=1))
        response = app.test_client().get(
            "/try",
            base_url="http://rebound.example:8000",
            headers={"X-Forwarded-Host": "localhost", "X-Forwarded-For": "127.0.0.1"},
        )
        assert KEYS["acme"] not in response.get_data(as_text=True)

    def test_page_with_the_key_is_never_cached(self, dev_http: FlaskClient) -> None:
        """The page that holds the key is sent no-store, no-referrer, and may not be framed."""
        headers = dev_http.get("/try").headers
        assert ("no-store", "no-referrer") == (
            headers["Cache-Control"],
            headers["Referrer-Policy"],
        )
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]

    def test_no_key_without_a_dev_key(self, settings: Settings, redis_client: redis.Redis) -> None:
        """Without OTP_DEV_API_KEY the field is empty and says where to find a key."""
        html = create_app(settings).test_client().get("/try").get_data(as_text=True)
        assert "" == self._api_key_value(html)
        assert "Paste the key" in html

    def test_every_input_has_a_label(self, dev_http: FlaskClient) -> None:
        """Each text input has a <label for>, and each radio sits inside a label."""
        html = dev_http.get("/try").get_data(as_text=True)
        tags = _tags(html)
        label_targets = {attrs.get("for") for tag, attrs in tags if tag == "label"}
        inputs = [attrs for tag, attrs in tags if tag == "input" and attrs.get("type") != "radio"]
        assert ["api-key", "to", "code", "passkey-subject"] == [attrs["id"] for attrs in inputs]
        assert set() == {attrs["id"] for attrs in inputs} - label_targets
        assert re.search(r'<label><input type="radio" name="channel" id="channel-sms"', html)

    def test_offers_only_channels_with_a_sender(
        self, settings: Settings, redis_client: redis.Redis
    ) -> None:
        """With no email sender configured, only the phone channels (the dev sender) remain."""
        html = create_app(replace(settings, email_provider="none")).test_client().get("/try")
        radios = [
            attrs["value"]
            for tag, attrs in _tags(html.get_data(as_text=True))
            if attrs.get("name") == "channel"
        ]
        assert ["sms", "whatsapp", "voice"] == radios


class TestDevApiKeySetting:
    def _environ(self, **extra: str) -> dict[str, str]:
        return {
            "OTP_ENV": "development",
            "OTP_REDIS_URL": "redis://127.0.0.1:6379/0",
            "OTP_API_KEYS": json.dumps(api_keys_json()),
            **extra,
        }

    def test_accepted_in_development(self) -> None:
        """OTP_DEV_API_KEY naming one of the configured keys is kept for the /try page."""
        settings = Settings.from_env(self._environ(OTP_DEV_API_KEY=KEYS["globex"]))
        assert KEYS["globex"] == settings.dev_api_key

    def test_rejected_in_production(self) -> None:
        """A production configuration with OTP_DEV_API_KEY is refused."""
        environ = self._environ(OTP_ENV="production", OTP_DEV_API_KEY=KEYS["acme"])
        with pytest.raises(ConfigError) as caught:
            Settings.from_env(environ)
        assert "OTP_DEV_API_KEY is for development only (the /try page)" in caught.value.problems

    def test_must_be_one_of_the_api_keys(self) -> None:
        """A dev key that no client has would only fail in the browser: refused at start."""
        with pytest.raises(ConfigError, match="OTP_DEV_API_KEY is not one of the keys"):
            Settings.from_env(self._environ(OTP_DEV_API_KEY="otp_not-a-configured-key"))

    def test_redacted_in_repr(self) -> None:
        """The repr of the settings never shows the dev key."""
        text = repr(Settings.from_env(self._environ(OTP_DEV_API_KEY=KEYS["acme"])))
        assert "dev_api_key=<redacted>" in text
        assert KEYS["acme"] not in text


def _wait_for_banner_key(base: str, log: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            requests.get(f"{base}/livez", timeout=0.5)
        except requests.RequestException:
            time.sleep(0.1)
            continue
        printed = re.search(r"Dev API key \(all scopes\):\s+(\S+)", log.read_text())
        assert printed is not None, log.read_text()
        return printed.group(1)
    raise AssertionError("otp-service dev did not start in time")


def test_otp_service_dev_prefills_the_key_it_printed(
    redis_url: str, prefix: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """`otp-service dev` prefills /try with the very key it made and printed."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTP_")}
    environ |= {"OTP_REDIS_URL": redis_url, "OTP_REDIS_PREFIX": prefix}
    log = tmp_path / "dev.log"
    with (
        log.open("wb") as output,
        subprocess.Popen(
            [sys.executable, "-m", "otp_service.cli", "dev", "--port", str(port)],
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        try:
            base = f"http://127.0.0.1:{port}"
            key = _wait_for_banner_key(base, log, process)
            page = requests.get(f"{base}/try", timeout=5).text
        finally:
            process.terminate()
            process.wait(timeout=15)
    assert f'value="{key}"' in page
    assert key.startswith("otp_")
