"""The OpenAPI operations of the ``/v1/verifications`` routes."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel

from otp_service.web.openapi import BODY, STORE, Operation, Reply, key_problems, problem
from otp_service.web.verify.schemas import (
    CheckDestinationRequest,
    CheckResponse,
    CheckVerificationRequest,
    StartVerificationRequest,
    VerificationResponse,
)

_VERIFICATION_ID: Final = {"verification_id": "The verification's id: `vf_` and 32 hex digits."}


def _check(path: str, summary: str, request: type[BaseModel], not_found: str) -> Operation:
    valid = "Checked: `valid` says whether the code was right; a wrong code is not an error."
    return Operation(
        "post",
        path,
        summary,
        {
            200: Reply(valid, CheckResponse),
            **BODY,
            **key_problems("verifications:check"),
            404: problem(
                f"{not_found} (`verification-not-found`); to its owner, `reason` says why: "
                "`approved`, `expired`, `canceled`, `max_attempts_reached` or `failed`."
            ),
            422: problem("The code is not digits of the right length (`validation-error`)."),
            429: problem("Every check has been used (`max-attempts-reached`)."),
            **STORE,
        },
        request=request,
        tags=("verifications",),
        path_parameters=_VERIFICATION_ID,
    )


def _by_id(method: str, path: str, summary: str, success: str) -> Operation:
    not_found = "No verification of this client has this id (`verification-not-found`)."
    return Operation(
        method,
        path,
        summary,
        {
            200: Reply(success, VerificationResponse),
            **key_problems("verifications:start"),
            404: problem(not_found),
            **STORE,
        },
        tags=("verifications",),
        path_parameters=_VERIFICATION_ID,
    )


_START: Final = Operation(
    "post",
    "/v1/verifications",
    "Start a verification (send a code), or resend the pending one",
    {
        200: Reply(
            "Resent: the destination's pending verification, a new code.", VerificationResponse
        ),
        201: Reply("Started: a code was sent.", VerificationResponse),
        **BODY,
        **key_problems("verifications:start"),
        403: problem(
            "The API key lacks the `verifications:start` scope (`forbidden`), the channel or "
            "the country is not allowed (`channel-not-allowed`, `country-not-allowed`), or the "
            "pumping guard blocks the number's prefix (`suspected-fraud`, with `prefix` and "
            "`blocked_until`)."
        ),
        409: problem(
            "Another request with this `Idempotency-Key` is still in progress "
            "(`idempotency-conflict`; retry after `Retry-After`)."
        ),
        422: problem(
            "`to` or `channel` is not valid (`validation-error`, `invalid-destination`), or the "
            "`Idempotency-Key` was used with another body (`idempotency-key-reused`)."
        ),
        429: problem(
            "Not now: `resend-too-soon`, `max-sends-reached`, `max-attempts-reached` or "
            "`rate-limited`."
        ),
        502: problem("The provider did not take the message (`delivery-failed`; see `retryable`)."),
        **STORE,
    },
    request=StartVerificationRequest,
    description=(
        "A pending verification of the same client, channel and `to` is resent instead. With an "
        "`Idempotency-Key`, a retry within 24 hours gets the first answer again "
        "(`Idempotent-Replayed: true`) and sends nothing."
    ),
    header_parameters={
        "Idempotency-Key": {
            "description": "Any unique string (a UUID): retries with it are answered once.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        }
    },
    tags=("verifications",),
)
OPERATIONS: Final = (
    _START,
    _check(
        "/v1/verifications/{verification_id}/check",
        "Check a code by verification id",
        CheckVerificationRequest,
        "No pending verification has this id",
    ),
    _check(
        "/v1/verification-checks",
        "Check a code by destination",
        CheckDestinationRequest,
        "No pending verification for this destination",
    ),
    _by_id(
        "get", "/v1/verifications/{verification_id}", "Read a verification", "The verification."
    ),
    _by_id(
        "post",
        "/v1/verifications/{verification_id}/cancel",
        "Cancel a pending verification",
        "Canceled: its code stops working at once.",
    ),
)
