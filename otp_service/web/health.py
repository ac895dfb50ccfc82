"""
Health: ``/livez`` (no I/O) and ``/readyz`` (Redis answers, scripts loadable).
"""

from __future__ import annotations

from typing import Final, Literal

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, Field

from otp_service.core.errors import StoreUnavailable
from otp_service.web.context import services
from otp_service.web.metrics import count_store_error
from otp_service.web.openapi import Operation, Reply

blueprint = Blueprint("health", __name__)


class Liveness(BaseModel):
    """The body of ``GET /livez``."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """The body of ``GET /readyz``: what was checked and passed, what fails, what to look at."""

    ok: list[str] = Field(
        description="Checks that passed: `redis`, `scripts`, `replication`, `persistence`."
    )
    failing: dict[str, str] = Field(description="Check → why it fails; empty when ready.")
    warnings: dict[str, str] = Field(default_factory=dict, description="Not failing, but look.")
    replication: dict[str, str | int] = Field(
        default_factory=dict,
        description="What writes rely on: `role`, the fewest `connected_replicas` of a master,"
        " and `wait_replicas` (OTP_REDIS_WAIT_REPLICAS) that must acknowledge each write.",
    )


OPERATIONS: Final = (
    Operation(
        "get",
        "/livez",
        "Liveness: the process answers",
        {200: Liveness},
        description="No I/O: a slow Redis never gets the process restarted.",
        tags=("operations",),
        security=(),
    ),
    Operation(
        "get",
        "/readyz",
        "Readiness: Redis answers PING and holds every script",
        {200: Reply("Ready.", Readiness), 503: Reply("Not ready: `failing` says why.", Readiness)},
        tags=("operations",),
        security=(),
    ),
)


@blueprint.get("/livez")
def livez() -> Response:
    """The process is up. Does no I/O, so a slow Redis never gets the process restarted."""
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Response:
    """Ready to serve: Redis answers PING and has every script (loading the missing ones)."""
    ok: list[str] = []
    failing: dict[str, str] = {}
    warnings: dict[str, str] = {}
    replication: dict[str, str | int] = {}
    store = services().store
    try:
        store.ping()
        ok.append("redis")
        if store.missing_scripts():
            store.load_scripts()
        ok.append("scripts")
        replication = _check_replication(ok, failing, warnings)
        _check_persistence(ok, warnings)
    except StoreUnavailable:
        count_store_error()
        failing["redis"] = "Redis does not answer"
    body = {"ok": ok, "failing": failing, "warnings": warnings, "replication": replication}
    response = jsonify(body)
    if failing:
        response.status_code = 503
        response.headers["Retry-After"] = "2"
    return response


#: Redis persistence modes that may lose TOTP factors (durable data), and why.
_PERSISTENCE_WARNINGS = {
    "off": "Redis persistence is off: TOTP factors are lost when Redis restarts (enable AOF)",
    "rdb": "Redis keeps only RDB snapshots: TOTP factors since the last one can be lost (use AOF)",
    "unknown": "Redis persistence cannot be read (INFO/CONFIG refused): make sure AOF is on",
}


def _check_persistence(ok: list[str], warnings: dict[str, str]) -> None:
    """Informational, never failing: a Redis without AOF still serves, but may lose factors."""
    mode = services().totp.persistence()
    if mode == "aof":
        ok.append("persistence")
    else:
        warnings["persistence"] = _PERSISTENCE_WARNINGS[mode]


def _check_replication(
    ok: list[str], failing: dict[str, str], warnings: dict[str, str]
) -> dict[str, str | int]:
    """Fails when writes are to be acknowledged by more replicas than are connected."""
    store = services().store
    wanted = store.durability.wait_replicas
    masters = store.replication()
    if masters is None:
        if wanted:
            warnings["replication"] = "Redis refuses INFO: connected replicas cannot be checked"
        return {"wait_replicas": wanted}
    roles = sorted({role for role, _ in masters})
    fewest = min(replicas for _, replicas in masters)
    state: dict[str, str | int] = {
        "role": ",".join(roles),
        "connected_replicas": fewest,
        "wait_replicas": wanted,
    }
    if roles != ["master"]:
        failing["replication"] = "the Redis the service writes to is not a master"
    elif fewest < wanted:
        failing["replication"] = (
            f"{fewest} replica(s) connected, OTP_REDIS_WAIT_REPLICAS asks {wanted}: every write"
            " would be refused"
        )
    else:
        ok.append("replication")
    return state
