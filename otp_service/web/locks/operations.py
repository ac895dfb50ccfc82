"""The OpenAPI operations of the ``/v1/locks`` routes."""

from __future__ import annotations

from typing import Any, Final

from otp_service.web.locks.schemas import DestinationLockResponse, SubjectLockResponse
from otp_service.web.openapi import STORE, Operation, Reply, Responses, key_problems, problem

_SUBJECT: Final = {"subject": "The client's opaque user id of a TOTP factor."}
_DESTINATION: Final = {
    "destination": "A phone number in E.164 form (`+14155550100`, URL-encoded) or an email address."
}
_BAD_DESTINATION: Final = problem("Not a phone number or email address (`validation-error`).")
#: A path the route cannot take (a line break in it, say) matches no route.
_NO_ROUTE: Final = problem("The path names no destination this route reads (`not-found`).")


def _lock(method: str, path: str, summary: str, responses: Responses, **extra: Any) -> Operation:
    key = key_problems("admin")
    return Operation(method, path, summary, {**key, **responses, **STORE}, tags=("locks",), **extra)


OPERATIONS: Final = (
    _lock(
        "get",
        "/v1/locks/subjects/{subject}",
        "Read the lockouts of a subject's TOTP factor",
        {
            200: Reply("Its codes' and its backup codes' allowances.", SubjectLockResponse),
            404: problem("The subject has no factor (`factor-not-found`)."),
        },
        path_parameters=_SUBJECT,
    ),
    _lock(
        "delete",
        "/v1/locks/subjects/{subject}",
        "Clear the lockouts of a subject's TOTP factor (audited)",
        {
            204: Reply("Cleared: the factor's codes and backup codes are accepted again."),
            404: problem("The subject has no factor (`factor-not-found`)."),
        },
        path_parameters=_SUBJECT,
    ),
    _lock(
        "get",
        "/v1/locks/destinations/{destination}",
        "Read the wrong codes and the lockout of a destination",
        {
            200: Reply("Its wrong codes and until when it is locked.", DestinationLockResponse),
            404: _NO_ROUTE,
            422: _BAD_DESTINATION,
        },
        path_parameters=_DESTINATION,
    ),
    _lock(
        "delete",
        "/v1/locks/destinations/{destination}",
        "Clear the lockout of a destination (audited)",
        {
            204: Reply("Cleared: codes may be sent to it and checked again."),
            404: _NO_ROUTE,
            422: _BAD_DESTINATION,
        },
        path_parameters=_DESTINATION,
    ),
)
