"""
Health: ``/livez`` (no I/O) and ``/readyz`` (Redis answers, scripts loadable).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from otp_service.errors import StoreUnavailable
from otp_service.web import services

blueprint = Blueprint("health", __name__)


@blueprint.get("/livez")
def livez() -> Response:
    """The process is up. Does no I/O, so a slow Redis never gets the process restarted."""
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Response:
    """Ready to serve: Redis answers PING and has every script (loading the missing ones)."""
    ok: list[str] = []
    failing: dict[str, str] = {}
    store = services().store
    try:
        store.ping()
        ok.append("redis")
        if store.missing_scripts():
            store.load_scripts()
        ok.append("scripts")
    except StoreUnavailable:
        failing["redis"] = "Redis does not answer"
    response = jsonify({"ok": ok, "failing": failing})
    if failing:
        response.status_code = 503
        response.headers["Retry-After"] = "2"
    return response
