"""
The ``/v1/locks`` routes (scope ``admin``, docs/security.md): an admin of a client reads and
clears the lockouts of the client's own subjects and destinations; every clear is audited.
"""

from __future__ import annotations

from flask import Blueprint, Response

from otp_service.core.models import Scope
from otp_service.verify.destinations import parse_destination
from otp_service.web.context import services
from otp_service.web.locks.operations import OPERATIONS as OPERATIONS
from otp_service.web.locks.schemas import (
    AllowanceResponse,
    DestinationLockResponse,
    SubjectLockResponse,
)
from otp_service.web.requests import authenticate, render

blueprint = Blueprint("locks", __name__, url_prefix="/v1/locks")


@blueprint.get("/subjects/<path:subject>")
def read_subject_lock(subject: str) -> Response:
    """The lockouts of the subject's TOTP factor."""
    client = authenticate(Scope.ADMIN)
    factor_id, codes, backup_codes = services().totp.locks(client, subject)
    now_ms = services().verifications.now_ms()
    return render(
        SubjectLockResponse(
            subject=subject,
            factor_id=factor_id,
            codes=AllowanceResponse.of(codes, now_ms),
            backup_codes=AllowanceResponse.of(backup_codes, now_ms),
        )
    )


@blueprint.delete("/subjects/<path:subject>")
def clear_subject_lock(subject: str) -> Response:
    """End the lockouts of the subject's TOTP factor, and their escalation."""
    client = authenticate(Scope.ADMIN)
    services().totp.clear_locks(client, subject)
    return Response(status=204)


def _destination(raw: str) -> str:
    return parse_destination(None, raw, services().settings.default_region).to


@blueprint.get("/destinations/<path:destination>")
def read_destination_lock(destination: str) -> Response:
    """The wrong codes for a phone number or email address, and its lockout."""
    client = authenticate(Scope.ADMIN)
    to = _destination(destination)
    return render(DestinationLockResponse.of(to, services().abuse.destination_lock(client, to)))


@blueprint.delete("/destinations/<path:destination>")
def clear_destination_lock(destination: str) -> Response:
    """Forget the destination's wrong codes: it may be sent codes and checked again."""
    client = authenticate(Scope.ADMIN)
    services().abuse.clear_destination(client, _destination(destination))
    return Response(status=204)
