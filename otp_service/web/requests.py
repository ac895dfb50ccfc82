"""
Request plumbing: request ids, the canonical log line, JSON bodies and API-key authentication.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import secrets
import time
from typing import Final, TypeVar

import pydantic
from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from otp_service.core.errors import (
    FieldError,
    Forbidden,
    InvalidRequest,
    MalformedBody,
    Unauthenticated,
)
from otp_service.core.events import RequestInfo, current_request
from otp_service.core.ip_addresses import limit_key
from otp_service.core.models import Client, Scope
from otp_service.web.context import services

_Model = TypeVar("_Model", bound=pydantic.BaseModel)
REQUEST_ID_HEADER: Final = "X-Request-ID"
_SAFE_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_BODY_BYTES: Final = 16 * 1024
access_logger = logging.getLogger("otp_service.access")


def _begin_request() -> None:
    g.started = time.perf_counter()
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    # Echo the caller's id only when it is safe to put in a header and a log line.
    g.request_id = sent if _SAFE_REQUEST_ID.match(sent) else secrets.token_hex(16)
    # The caller's own address is the end user's only behind trusted proxies (see end_user_ip).
    proxied = services().settings.trusted_proxies > 0
    current_request.set(
        RequestInfo(request_id=g.request_id, ip=request.remote_addr if proxied else None)
    )


def _end_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    started = g.get("started")
    latency_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
    access_logger.info(
        "request",
        extra={
            "request_id": g.get("request_id"),
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else None,
            "status": response.status_code,
            "latency_ms": latency_ms,
            "client": g.get("client_name"),
            "verification_id": g.get("verification_id"),
        },
    )
    return response


def register_request_hooks(app: Flask) -> None:
    """Request ids on every response and one canonical log line per request."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.before_request(_begin_request)
    app.after_request(_end_request)


def render(payload: pydantic.BaseModel, status: int = 200) -> Response:
    """A JSON response of a response model."""
    response = jsonify(payload.model_dump(mode="json"))
    response.status_code = status
    return response


def _read_body() -> bytes:
    """
    The raw body, at most ``MAX_BODY_BYTES``.

    Werkzeug enforces the limit on a Content-Length body, but hands an empty stream for a chunked
    one unless the server marks its input terminated (gunicorn does not): read those ourselves,
    bounded, from the server's de-chunking input.
    """
    chunked = request.headers.get("Transfer-Encoding", "").lower() == "chunked"
    if request.content_length is not None or not chunked:
        return request.get_data(cache=True)
    try:
        data: bytes = request.environ["wsgi.input"].read(MAX_BODY_BYTES + 1)
    except Exception as error:
        # The server's de-chunking raises its own parse errors (gunicorn's InvalidChunkSize,
        # NoMoreData, ...), which web/ cannot name without importing the server: the body is bad.
        raise MalformedBody("The chunked body is malformed.") from error
    if len(data) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    return data


def parse_body(model: type[_Model]) -> _Model:
    """
    The JSON body of the request, validated by ``model``.

    Raises:
        UnsupportedMediaType: the body is not declared as JSON (415).
        RequestEntityTooLarge: over 16 KiB (413, from Werkzeug).
        MalformedBody: not parseable JSON, or not an object (400).
        InvalidRequest: the object does not fit ``model`` (422).
    """
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = _read_body()
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise MalformedBody("The body is not valid JSON.") from error
    if not isinstance(document, dict):
        raise MalformedBody("The body must be a JSON object.")
    try:
        return model.model_validate(document)
    except pydantic.ValidationError as error:
        raise InvalidRequest(
            [
                FieldError(".".join(str(part) for part in item["loc"]) or "body", item["msg"])
                for item in error.errors(include_url=False, include_input=False)
            ]
        ) from error


def parse_query(model: type[_Model]) -> _Model:
    """
    The query string of the request, validated by ``model`` (the first value of a repeated name).

    Raises:
        InvalidRequest: a parameter is unknown, missing or malformed (422).
    """
    try:
        return model.model_validate(request.args.to_dict())
    except pydantic.ValidationError as error:
        raise InvalidRequest(
            [
                FieldError(".".join(str(part) for part in item["loc"]) or "query", item["msg"])
                for item in error.errors(include_url=False, include_input=False)
            ]
        ) from error


def end_user_ip(client: Client, given: object | None) -> str | None:
    """
    What the per-IP limits count the end user as: ``context.ip`` when the client's policy
    trusts it; else the request's address when the caller is the device (a start-only key) or
    comes through trusted proxies; else None. Normalised (see ``ip_addresses.limit_key``).
    """
    settings = services().settings
    raw: str | None = None
    if given is not None and client.trusts_context_ip:
        raw = str(given)
        current_request.set(dataclasses.replace(current_request.get(), ip=raw))
    elif settings.trusted_proxies or not client.trusts_context_ip:
        raw = request.remote_addr
    return limit_key(raw, settings.ipv6_prefix_length) if raw else None


def authenticate(scope: Scope, *or_scopes: Scope) -> Client:
    """
    The client whose API key is in ``Authorization: Bearer``, if it has ``scope`` (or one of
    ``or_scopes``).

    Raises:
        Unauthenticated: no key, or an unknown one (401).
        Forbidden: the key lacks every scope named (403).
    """
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated("Send an API key as Authorization: Bearer <key>.")
    digest = hashlib.sha256(key.strip().encode()).hexdigest()
    client = services().clients_by_key_hash.get(digest)
    if client is None:
        raise Unauthenticated("The API key is not valid.")
    g.client_name = client.name
    if client.scopes.isdisjoint((scope, *or_scopes)):
        named = " or ".join(wanted.value for wanted in (scope, *or_scopes))
        raise Forbidden(f"This API key does not have the {named} scope.")
    return client
