"""
Development-only pages: ``/try`` (one login, watched in the browser) and the dev outbox.

The blueprint is registered only when ``settings.is_development``. The pages call the real ``/v1``
API from the browser with an API key typed into the page; the key ``otp-service dev`` made is
prefilled (``Settings.dev_api_key``), and the outbox (which holds codes) is served, only to a
loopback peer asking for a loopback ``Host`` as sent (never the ``X-Forwarded-Host`` a proxy fix
reads), so a page that rebinds its DNS name to 127.0.0.1 can read neither.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Final
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, make_response, render_template, request
from werkzeug.exceptions import NotFound

from otp_service.core.models import Channel
from otp_service.web.context import services
from otp_service.web.openapi import Operation, Reply, problem, text

blueprint = Blueprint("dev", __name__, template_folder="templates")

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
POLL_INTERVAL_MS: Final = 1500
# Scripts run only with this response's nonce; the email HTML shown in the outbox sits in a
# sandboxed iframe (no scripts, opaque origin) and inherits this policy too.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; frame-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _page(template: str, **context: object) -> Response:
    nonce = secrets.token_urlsafe(16)
    response = make_response(
        render_template(template, nonce=nonce, poll_interval_ms=POLL_INTERVAL_MS, **context)
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(nonce=nonce)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _as_sent(name: str) -> str:
    """An environ value as the peer sent it, before ProxyFix rewrote it from X-Forwarded-*."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return str(original.get(name) or request.environ.get(name) or "")


def _is_loopback_address(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def is_loopback_request() -> bool:
    """Whether a loopback peer asked for a loopback host name (not a name rebound to one)."""
    host = urlsplit("//" + _as_sent("HTTP_HOST")).hostname or ""
    return host in LOOPBACK_HOSTS and _is_loopback_address(_as_sent("REMOTE_ADDR"))


def _loopback_only() -> None:
    if not is_loopback_request():
        raise NotFound()


@blueprint.get("/try")
def try_page() -> Response:
    """Start a verification, read the code in the outbox beside it, check it."""
    settings = services().settings
    channels = [channel for channel in Channel if channel in services().senders]
    api_key = settings.dev_api_key if is_loopback_request() else ""
    return _page(
        "dev/try.html", api_key=api_key, channels=channels, code_length=settings.code_length
    )


@blueprint.get("/dev/outbox")
def outbox_page() -> Response:
    """The dev outbox as a page, newest first, that polls for new messages by itself."""
    _loopback_only()
    return _page("dev/outbox.html", messages=services().outbox.dev_messages())


@blueprint.get("/dev/outbox.json")
def outbox_json() -> Response:
    """The dev outbox as JSON: ``{"messages": [...]}``, newest first."""
    _loopback_only()
    return jsonify({"messages": services().outbox.dev_messages()})


_DEV_ONLY: Final = "Development only (`OTP_ENV=development`); absent in production."


def _page_operation(path: str, summary: str, media_type: str, what: str, *tags: str) -> Operation:
    reply = (
        Reply(what, schema={"type": "object"}) if media_type == "json" else text(media_type, what)
    )
    return Operation("get", path, summary, {200: reply}, tags=tags, security=())


def _loopback_page_operation(path: str, summary: str, media_type: str, what: str) -> Operation:
    reply = (
        Reply(what, schema={"type": "object"}) if media_type == "json" else text(media_type, what)
    )
    hidden = problem("Not asked by a loopback peer for a loopback `Host` (`not-found`).")
    responses = {200: reply, 404: hidden}
    return Operation("get", path, summary, responses, tags=("development",), security=())


OPERATIONS: Final = (
    _page_operation("/try", "Try a login in a browser", "text/html", _DEV_ONLY, "development"),
    _loopback_page_operation("/dev/outbox", "The dev outbox", "text/html", _DEV_ONLY),
    _loopback_page_operation("/dev/outbox.json", "The dev outbox as JSON", "json", _DEV_ONLY),
)
