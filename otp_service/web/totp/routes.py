"""
The ``/v1/totp`` routes (authenticator apps, docs/totp.md): parse → one service call → render.
"""

from __future__ import annotations

import re
from typing import Final

from flask import Blueprint, Response

from otp_service.core.errors import FactorNotFound
from otp_service.core.models import Scope
from otp_service.web.context import services
from otp_service.web.requests import authenticate, parse_body, render
from otp_service.web.totp.operations import OPERATIONS as OPERATIONS
from otp_service.web.totp.schemas import (
    ActivateFactorRequest,
    BackupCodesResponse,
    EnrollFactorRequest,
    EnrolmentResponse,
    FactorResponse,
    TotpCheckRequest,
    TotpCheckResponse,
)

blueprint = Blueprint("totp", __name__, url_prefix="/v1/totp")
FACTOR_ID: Final = re.compile(r"^tf_[0-9a-f]{32}$")


def _factor_id(raw: str) -> str:
    # A malformed id can name nothing: answer 404 without asking Redis.
    if not FACTOR_ID.fullmatch(raw):
        raise FactorNotFound("No factor has this id.")
    return raw


@blueprint.post("/factors")
def enroll_factor() -> Response:
    """Enrol a new, unverified factor for a subject; the secret is in this response only."""
    client = authenticate(Scope.TOTP)
    body = parse_body(EnrollFactorRequest)
    enrolment = services().totp.enroll(
        client, body.subject, body.label, body.algorithm, body.digits
    )
    return render(EnrolmentResponse.of_enrolment(enrolment), 201)


@blueprint.post("/factors/<factor_id>/activate")
def activate_factor(factor_id: str) -> Response:
    """Verify a factor with a first code from the app."""
    client = authenticate(Scope.TOTP)
    body = parse_body(ActivateFactorRequest)
    factor = services().totp.activate(client, _factor_id(factor_id), body.code)
    return render(FactorResponse.of(factor))


@blueprint.post("/checks")
def check_code() -> Response:
    """Check a TOTP code (or a backup code) for a subject."""
    client = authenticate(Scope.TOTP)
    body = parse_body(TotpCheckRequest)
    valid = services().totp.check(client, body.subject, body.code)
    return render(TotpCheckResponse(valid=valid))


@blueprint.delete("/factors/<factor_id>")
def delete_factor(factor_id: str) -> Response:
    """Delete a factor and its backup codes."""
    client = authenticate(Scope.TOTP)
    services().totp.delete(client, _factor_id(factor_id))
    return Response(status=204)


@blueprint.post("/factors/<factor_id>/backup-codes")
def regenerate_backup_codes(factor_id: str) -> Response:
    """Make ten new backup codes for a verified factor (the old ones stop working)."""
    client = authenticate(Scope.TOTP)
    codes = services().totp.regenerate_backup_codes(client, _factor_id(factor_id))
    return render(BackupCodesResponse.of(codes), 201)
