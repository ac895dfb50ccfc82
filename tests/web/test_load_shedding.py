"""Load shedding: a request that waited too long in the queue is a fast 503, before any work."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.web.load_shedding import waited_ms
from tests.support import PHONE, auth


def _stamp(seconds_ago: float) -> dict[str, str]:
    return {"X-Request-Start": f"t={time.time() - seconds_ago:.3f}"}


def _start(http: FlaskClient, seconds_ago: float) -> TestResponse:
    headers = {**auth(), **_stamp(seconds_ago)}
    return http.post("/v1/verifications", json={"to": PHONE, "channel": "sms"}, headers=headers)


def test_a_request_that_waited_too_long_is_shed_before_any_work(down_http: FlaskClient) -> None:
    """2 s in the queue: 503 overloaded with Retry-After, even with Redis down (nothing asked)."""
    response = _start(down_http, 2.0)
    body = response.get_json()
    assert (503, "/problems/overloaded") == (response.status_code, body["type"])
    assert response.headers["Retry-After"]


def test_a_fresh_request_is_served(http: FlaskClient) -> None:
    """Stamped just now: served as usual."""
    assert 201 == _start(http, 0.0).status_code


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/metrics"])
def test_the_probes_are_never_shed(http: FlaskClient, path: str) -> None:
    """A load balancer's probes answer whatever the queue."""
    assert 200 == http.get(path, headers=_stamp(30.0)).status_code


def test_shedding_can_be_turned_off(settings: Settings) -> None:
    """OTP_MAX_QUEUE_MS=0: nothing is shed."""
    http = create_app(replace(settings, max_queue_ms=0)).test_client()
    assert 201 == _start(http, 30.0).status_code


@pytest.mark.parametrize("stamp", ["", "t=", "t=abc", "1700000000.1", "t=1e9", "t=17000000000000"])
def test_a_stamp_that_is_not_nginxs_is_ignored(stamp: str) -> None:
    """Only nginx's ``t=<seconds>[.fraction]`` counts."""
    assert waited_ms(stamp, time.time()) is None


def test_the_wait_is_measured_in_milliseconds() -> None:
    """A stamp 1.5 s old is 1500 ms."""
    assert 1500 == round(waited_ms("t=1700000000.000", 1700000001.5) or 0)
