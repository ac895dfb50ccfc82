"""
The ``/v1/verifications`` routes (docs/api.md): parse → call one service method → render.
"""

from __future__ import annotations

import re
from typing import Final

from flask import Blueprint, Response, g

from otp_service.core.errors import VerificationNotFound
from otp_service.core.models import Client, Scope
from otp_service.verify.destinations import parse_any_destination, parse_destination
from otp_service.web.context import services
from otp_service.web.requests import authenticate, end_user_ip, parse_body, render
from otp_service.web.verify.idempotent import idempotent
from otp_service.web.verify.operations import OPERATIONS as OPERATIONS
from otp_service.web.verify.schemas import (
    CheckDestinationRequest,
    CheckResponse,
    CheckVerificationRequest,
    StartVerificationRequest,
    VerificationResponse,
)

blueprint = Blueprint("verifications", __name__, url_prefix="/v1")
VERIFICATION_ID: Final = re.compile(r"^vf_[0-9a-f]{32}$")


def _verification_id(raw: str) -> str:
    # A malformed id can name nothing: answer 404 without asking Redis.
    if not VERIFICATION_ID.fullmatch(raw):
        raise VerificationNotFound("No verification has this id.")
    g.verification_id = raw
    return raw


@blueprint.post("/verifications")
def start_verification() -> Response:
    """Start a verification, or resend the pending one for the same destination."""
    client = authenticate(Scope.START)
    body = parse_body(StartVerificationRequest)
    return idempotent(client, body, lambda: _start(client, body))


def _start(client: Client, body: StartVerificationRequest) -> Response:
    settings = services().settings
    first, *fallbacks = body.channel_order
    destination = parse_destination(first, body.to, settings.default_region)
    for channel in fallbacks:  # the destination must suit every channel it may fall back to
        parse_destination(channel, body.to, settings.default_region)
    result = services().verifications.start(
        client,
        destination.channel,
        destination.to,
        body.locale,
        country=destination.country,
        ip=end_user_ip(client, body.context.ip if body.context else None),
        transaction=body.transaction,
        fallbacks=tuple(fallbacks),
        fallback_after_seconds=body.fallback_after_seconds,
    )
    g.verification_id = result.verification.id
    now_ms = services().verifications.now_ms()
    return render(
        VerificationResponse.of(result.verification, now_ms), 201 if result.created else 200
    )


@blueprint.post("/verifications/<verification_id>/check")
def check_verification(verification_id: str) -> Response:
    """Check a code against a verification by id."""
    client = authenticate(Scope.CHECK)
    body = parse_body(CheckVerificationRequest)
    result = services().verifications.check(
        client, _verification_id(verification_id), body.code, body.transaction
    )
    return render(CheckResponse.of(result))


@blueprint.post("/verification-checks")
def check_destination() -> Response:
    """Check a code against the pending verification of a destination."""
    client = authenticate(Scope.CHECK)
    body = parse_body(CheckDestinationRequest)
    region = services().settings.default_region
    destination = (
        parse_destination(body.channel, body.to, region)
        if body.channel
        else parse_any_destination(body.to, region)
    )
    result = services().verifications.check_destination(
        client, body.channel, destination.to, body.code, body.transaction
    )
    g.verification_id = result.verification_id
    return render(CheckResponse.of(result))


@blueprint.get("/verifications/<verification_id>")
def get_verification(verification_id: str) -> Response:
    """Read a verification."""
    client = authenticate(Scope.START)
    verification = services().verifications.get(client, _verification_id(verification_id))
    return render(VerificationResponse.of(verification, services().verifications.now_ms()))


@blueprint.post("/verifications/<verification_id>/cancel")
def cancel_verification(verification_id: str) -> Response:
    """Cancel a pending verification."""
    client = authenticate(Scope.START)
    verification = services().verifications.cancel(client, _verification_id(verification_id))
    return render(VerificationResponse.of(verification, services().verifications.now_ms()))
