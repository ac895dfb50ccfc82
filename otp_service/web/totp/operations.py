"""The OpenAPI operations of the ``/v1/totp`` routes."""

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
from otp_service.web.totp.schemas import (
    ActivateFactorRequest,
    BackupCodesResponse,
    EnrollFactorRequest,
    EnrolmentResponse,
    FactorResponse,
    TotpCheckRequest,
    TotpCheckResponse,
)

_FACTOR_ID: Final = {"factor_id": "The factor's id: `tf_` and 32 hex digits."}
_NO_FACTOR: Final = problem("No such factor of this client (`factor-not-found`).")


def _totp(method: str, path: str, summary: str, responses: Responses, **extra: Any) -> Operation:
    key = key_problems("totp")
    return Operation(method, path, summary, {**key, **responses, **STORE}, tags=("totp",), **extra)


OPERATIONS: Final = (
    _totp(
        "post",
        "/v1/totp/factors",
        "Enrol a TOTP factor (its secret is shown once)",
        {
            201: Reply("Enrolled, unverified: the secret, URI and QR code.", EnrolmentResponse),
            **BODY,
            409: problem("The subject already has a verified factor (`factor-exists`)."),
            422: problem("The body is not valid (`validation-error`)."),
        },
        request=EnrollFactorRequest,
    ),
    _totp(
        "post",
        "/v1/totp/factors/{factor_id}/activate",
        "Activate a factor with a first code",
        {
            200: Reply("Verified.", FactorResponse),
            **BODY,
            404: _NO_FACTOR,
            422: problem("The code is malformed or not the current one (`validation-error`)."),
            429: problem("Too many wrong codes (`max-attempts-reached`)."),
        },
        request=ActivateFactorRequest,
        path_parameters=_FACTOR_ID,
    ),
    _totp(
        "post",
        "/v1/totp/checks",
        "Check a TOTP or backup code for a subject",
        {
            200: Reply("Checked: a replayed code is not valid.", TotpCheckResponse),
            **BODY,
            404: problem("The subject has no verified factor (`factor-not-found`)."),
            422: problem("The body is not valid (`validation-error`)."),
            429: problem("Too many wrong codes (`max-attempts-reached`, `rate-limited`)."),
        },
        request=TotpCheckRequest,
    ),
    _totp(
        "delete",
        "/v1/totp/factors/{factor_id}",
        "Delete a factor and its backup codes",
        {204: Reply("Deleted."), 404: _NO_FACTOR},
        path_parameters=_FACTOR_ID,
    ),
    _totp(
        "post",
        "/v1/totp/factors/{factor_id}/backup-codes",
        "Make new backup codes (the old ones stop working)",
        {201: Reply("Ten new codes, shown once.", BackupCodesResponse), 404: _NO_FACTOR},
        path_parameters=_FACTOR_ID,
    ),
)
