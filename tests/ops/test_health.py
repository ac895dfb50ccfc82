"""
Health: ``/livez`` answers without I/O; ``/readyz`` says what is ok and what fails (503).
"""

from __future__ import annotations

from typing import cast

import redis
from flask.testing import FlaskClient

from otp_service.services import Services
from otp_service.web.context import EXTENSION_KEY


def test_livez_answers_while_redis_is_down(down_http: FlaskClient) -> None:
    """Liveness does no I/O: a dead Redis never gets the process restarted."""
    response = down_http.get("/livez")
    assert 200 == response.status_code
    assert {"status": "ok"} == response.get_json()


def test_readyz_is_ready_with_redis_and_scripts(http: FlaskClient) -> None:
    """Ready: Redis answers and holds every script; nothing fails."""
    response = http.get("/readyz")
    body = response.get_json()
    assert 200 == response.status_code
    assert {"redis", "scripts"} <= set(body["ok"])
    assert {} == body["failing"]


def test_readyz_loads_the_scripts_redis_lost(http: FlaskClient, redis_client: redis.Redis) -> None:
    """After a SCRIPT FLUSH (as after a Redis restart), readiness loads every script again."""
    store = cast(Services, http.application.extensions[EXTENSION_KEY]).store
    redis_client.script_flush()
    assert store.missing_scripts()
    assert 200 == http.get("/readyz").status_code
    assert [] == store.missing_scripts()


def test_readyz_says_what_fails(down_http: FlaskClient) -> None:
    """Not ready: 503, with Retry-After and what is failing."""
    response = down_http.get("/readyz")
    assert 503 == response.status_code
    assert "2" == response.headers["Retry-After"]
    body = response.get_json()
    assert [] == body["ok"]
    assert ["redis"] == list(body["failing"])
