"""The OpenAPI operations of the ``/v1/passkeys`` routes."""

from __future__ import annotations

from typing import Any, Final

from otp_service.web.openapi import (
    BODY,
    STORE,
    Operation,
    Reply,
    Responses,
    key_problems,
    problem,
)
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
)

_INVALID: Final = problem("The body is not valid (`validation-error`).")


def _passkeys(
    method: str, path: str, summary: str, responses: Responses, **extra: Any
) -> Operation:
    key = key_problems("passkeys")
    return Operation(
        method, path, summary, {**key, **responses, **STORE}, tags=("passkeys",), **extra
    )


OPERATIONS: Final = (
    _passkeys(
        "post",
        "/v1/passkeys/registrations",
        "Begin registering a passkey (creation options)",
        {201: Reply("The ceremony and its options.", CeremonyResponse), **BODY, 422: _INVALID},
        request=StartRegistrationRequest,
    ),
    _passkeys(
        "post",
        "/v1/passkeys/registrations/{registration_id}/verify",
        "Verify a new credential and keep it",
        {
            201: Reply("Registered.", PasskeyResponse),
            **BODY,
            404: problem("Unknown, used or expired registration (`challenge-not-found`)."),
            409: problem("The credential is already registered (`passkey-exists`)."),
            422: problem(
                "Attestation, origin or RP id wrong (`passkey-rejected`, with `reason`), or "
                "the body is not valid (`validation-error`)."
            ),
        },
        request=VerifyRegistrationRequest,
        path_parameters={"registration_id": "`pr_` and 32 hex digits."},
    ),
    _passkeys(
        "post",
        "/v1/passkeys/authentications",
        "Begin a passkey sign-in (request options)",
        {
            201: Reply("The ceremony and its options.", CeremonyResponse),
            **BODY,
            404: problem("The subject has no passkey (`passkey-not-found`)."),
            422: _INVALID,
        },
        request=StartAuthenticationRequest,
    ),
    _passkeys(
        "post",
        "/v1/passkeys/authentications/{authentication_id}/verify",
        "Check a passkey assertion",
        {
            200: Reply(
                "Checked: a bad signature, origin or counter is not valid.", AuthenticationResponse
            ),
            **BODY,
            404: problem("Unknown, used or expired authentication (`challenge-not-found`)."),
            422: _INVALID,
            429: problem("Too many failed sign-ins for the subject (`max-attempts-reached`)."),
        },
        request=VerifyAuthenticationRequest,
        path_parameters={"authentication_id": "`pa_` and 32 hex digits."},
    ),
    _passkeys(
        "get",
        "/v1/passkeys",
        "List a subject's passkeys",
        {200: Reply("The passkeys, oldest first.", PasskeyListResponse), 422: _INVALID},
        query=ListPasskeysQuery,
    ),
    _passkeys(
        "delete",
        "/v1/passkeys/{passkey_id}",
        "Delete a passkey",
        {204: Reply("Deleted."), 404: problem("No such passkey (`passkey-not-found`).")},
        path_parameters={"passkey_id": "`pk_` and 32 hex digits."},
    ),
)
