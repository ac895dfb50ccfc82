"""
The requests the benchmark sends: ready-made ones for the load driver, and set-up calls of its own.
"""

from __future__ import annotations

import json
from typing import Any, cast

from bench.environment import KEYS
from bench.keepalive import Connection, header_lines
from bench.servers import Server


def bare_echo() -> dict[str, Any]:
    """The bare endpoint's request."""
    return {
        "method": "POST",
        "path": "/echo",
        "body": json.dumps({"code": "123456"}),
        "headers": {"Content-Type": "application/json"},
    }


def check(verification_id: str, api_key: str, code: str = "123456") -> dict[str, Any]:
    """A check of ``verification_id`` with ``api_key``."""
    return {
        "method": "POST",
        "path": f"/v1/verifications/{verification_id}/check",
        "body": json.dumps({"code": code}),
        "headers": {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    }


def limited_start() -> dict[str, Any]:
    """A start by the ``limited`` client (rate-limited after its first)."""
    return {
        "method": "POST",
        "path": "/v1/verifications",
        "body": json.dumps({"to": "+14155550100", "channel": "sms"}),
        "headers": {
            "Authorization": f"Bearer {KEYS['limited']}",
            "Content-Type": "application/json",
        },
    }


def post(server: Server, path: str, body: dict[str, str], client: str) -> dict[str, Any]:
    """One request from the harness itself (set-up, not measured): the JSON it answered."""
    host, _, port = server.address.partition(":")
    connection = Connection(host, int(port), 10.0)
    headers = header_lines(
        {"Authorization": f"Bearer {KEYS[client]}", "Content-Type": "application/json"}
    )
    try:
        response = connection.request("POST", path, headers, json.dumps(body).encode())
    finally:
        connection.close()
    return cast(dict[str, Any], json.loads(response.body))
