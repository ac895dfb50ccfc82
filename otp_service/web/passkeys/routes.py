"""
The ``/v1/passkeys`` routes (WebAuthn, docs/passkeys.md): parse → one service call → render.
"""

from __future__ import annotations

import re
from typing import Final

from flask import Blueprint, Response

from otp_service.core.errors import ChallengeNotFound, PasskeyNotFound
from otp_service.core.models import Scope
from otp_service.web.context import services
from otp_service.web.passkeys.operations import OPERATIONS as OPERATIONS
from otp_service.web.passkeys.schemas import (
    AuthenticationResponse,
    CeremonyResponse,
    ListPasskeysQuery,
    PasskeyListResponse,
    PasskeyResponse,
    StartAuthenticationRequest,
    StartRegistrationRequest,
    VerifyAuthenticationRequest,
    VerifyRegistrationRequest,
    credential_json,
)
from otp_service.web.requests import authenticate, parse_body, parse_query, render

blueprint = Blueprint("passkeys", __name__, url_prefix="/v1/passkeys")
_IDS: Final = {
    "pr": re.compile(r"^pr_[0-9a-f]{32}$"),
    "pa": re.compile(r"^pa_[0-9a-f]{32}$"),
    "pk": re.compile(r"^pk_[0-9a-f]{32}$"),
}


def _ceremony_id(kind: str, raw: str) -> str:
    # A malformed id can name nothing: answer 404 without asking Redis.
    if not _IDS[kind].fullmatch(raw):
        what = "registration" if kind == "pr" else "authentication"
        raise ChallengeNotFound(f"No pending passkey {what} has this id.")
    return raw


@blueprint.post("/registrations")
def start_registration() -> Response:
    """Begin registering a passkey: the options for ``navigator.credentials.create``."""
    client = authenticate(Scope.PASSKEYS)
    body = parse_body(StartRegistrationRequest)
    ceremony = services().passkeys.start_registration(
        client, body.subject, body.display_name, body.user_verification
    )
    return render(CeremonyResponse.of(ceremony), 201)


@blueprint.post("/registrations/<registration_id>/verify")
def verify_registration(registration_id: str) -> Response:
    """Verify the browser's new credential and keep it as the subject's passkey."""
    client = authenticate(Scope.PASSKEYS)
    body = parse_body(VerifyRegistrationRequest)
    passkey = services().passkeys.finish_registration(
        client, _ceremony_id("pr", registration_id), credential_json(body.credential)
    )
    return render(PasskeyResponse.of(passkey), 201)


@blueprint.post("/authentications")
def start_authentication() -> Response:
    """Begin a sign-in: the options for ``navigator.credentials.get`` (autofill: no subject)."""
    client = authenticate(Scope.PASSKEYS)
    body = parse_body(StartAuthenticationRequest)
    ceremony = services().passkeys.start_authentication(
        client, body.subject, body.user_verification
    )
    return render(CeremonyResponse.of(ceremony), 201)


@blueprint.post("/authentications/<authentication_id>/verify")
def verify_authentication(authentication_id: str) -> Response:
    """Check the browser's assertion: ``valid`` and whose passkey, or why not."""
    client = authenticate(Scope.PASSKEYS)
    body = parse_body(VerifyAuthenticationRequest)
    outcome = services().passkeys.finish_authentication(
        client, _ceremony_id("pa", authentication_id), credential_json(body.credential)
    )
    return render(AuthenticationResponse.of(outcome))


@blueprint.get("")
def list_passkeys() -> Response:
    """A subject's passkeys (``?subject=``), oldest first."""
    client = authenticate(Scope.PASSKEYS)
    subject = parse_query(ListPasskeysQuery).subject
    passkeys = services().passkeys.list(client, subject)
    return render(PasskeyListResponse(passkeys=[PasskeyResponse.of(p) for p in passkeys]))


@blueprint.delete("/<passkey_id>")
def delete_passkey(passkey_id: str) -> Response:
    """Delete a passkey: it can no longer sign in."""
    client = authenticate(Scope.PASSKEYS)
    if not _IDS["pk"].fullmatch(passkey_id):
        raise PasskeyNotFound("No passkey has this id.")
    services().passkeys.delete(client, passkey_id)
    return Response(status=204)
