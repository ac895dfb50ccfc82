"""
The app served over real HTTP on loopback (Werkzeug's threaded server), driven with ``requests``.

The fake clock and the capturing sender stay in the test's hands, as with Flask's test client.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask
from werkzeug.serving import make_server

from otp_service.core.models import Channel
from tests.support import PHONE, CapturingSender, auth


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL; stops it after."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@dataclass
class LiveApi:
    """Drives ``/v1`` over real HTTP."""

    base: str
    sender: CapturingSender
    session: requests.Session

    def post(self, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST ``path`` as ``client`` (default acme) with extra ``headers``."""
        headers = {**auth(kwargs.pop("client", "acme")), **kwargs.pop("headers", {})}
        return self.session.post(f"{self.base}{path}", json=body, headers=headers, timeout=10)

    def get(self, path: str, client: str = "acme") -> Any:
        """GET ``path`` as ``client``."""
        return self.session.get(f"{self.base}{path}", headers=auth(client), timeout=10)

    def start(self, to: str = PHONE, channel: str = "sms", **extra: Any) -> Any:
        """POST /v1/verifications (``client`` and ``headers`` are passed on)."""
        options = {k: extra.pop(k) for k in ("client", "headers") if k in extra}
        return self.post("/v1/verifications", {"to": to, "channel": channel, **extra}, **options)

    def check(self, verification_id: str, code: str, client: str = "acme", **extra: Any) -> Any:
        """POST /v1/verifications/{id}/check."""
        body = {"code": code, **extra}
        return self.post(f"/v1/verifications/{verification_id}/check", body, client=client)

    def cancel(self, verification_id: str) -> Any:
        """POST /v1/verifications/{id}/cancel."""
        return self.post(f"/v1/verifications/{verification_id}/cancel")

    def started(
        self, to: str = PHONE, channel: Channel | str = "sms", **extra: Any
    ) -> tuple[str, str]:
        """Start a verification that must succeed; its id and the code that was sent."""
        response = self.start(to, str(channel), **extra)
        assert response.status_code == 201, response.json()
        return response.json()["id"], self.sender.last_code(to)


@contextmanager
def live_api(app: Flask, sender: CapturingSender) -> Iterator[LiveApi]:
    """A ``LiveApi`` over ``app`` served on loopback."""
    with serving(app) as base, requests.Session() as session:
        yield LiveApi(base, sender, session)
