"""
RFC 9457 ``application/problem+json`` for every error, from one table.

``detail`` never carries a code, a hash, a full destination or a vendor's raw message.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from flask import Flask, Response, g, json, request
from werkzeug.exceptions import HTTPException

from otp_service.core import errors
from otp_service.web.schemas import iso_timestamp

logger = logging.getLogger("otp_service.web")

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
STORE_RETRY_AFTER_SECONDS: Final = 2

#: exception class → (status, type slug, title). Every OTPError leaf must be here (a test checks).
PROBLEMS: Final[dict[type[errors.OTPError], tuple[int, str, str]]] = {
    errors.MalformedBody: (400, "malformed-body", "The request body is not a JSON object"),
    errors.Unauthenticated: (401, "unauthorized", "A valid API key is required"),
    errors.Forbidden: (403, "forbidden", "The API key does not allow this"),
    errors.InvalidSignature: (403, "invalid-signature", "The request signature is not valid"),
    errors.ChannelNotAllowed: (403, "channel-not-allowed", "This channel is not allowed"),
    errors.CountryNotAllowed: (403, "country-not-allowed", "SMS to this country is not allowed"),
    errors.SuspectedFraud: (403, "suspected-fraud", "Sends to this number range are suspended"),
    errors.VerificationNotFound: (404, "verification-not-found", "No such verification"),
    errors.FactorNotFound: (404, "factor-not-found", "No such TOTP factor"),
    errors.FactorExists: (409, "factor-exists", "The subject already has a verified factor"),
    errors.PasskeyNotFound: (404, "passkey-not-found", "No such passkey"),
    errors.FraudBlockNotFound: (404, "fraud-block-not-found", "No such block"),
    errors.ChallengeNotFound: (404, "challenge-not-found", "No such passkey ceremony"),
    errors.PasskeyExists: (409, "passkey-exists", "This credential is already registered"),
    errors.PasskeyRejected: (422, "passkey-rejected", "The passkey response is not valid"),
    errors.IdempotencyConflict: (
        409,
        "idempotency-conflict",
        "A request with this Idempotency-Key is in progress",
    ),
    errors.InvalidRequest: (422, "validation-error", "The request is not valid"),
    errors.IdempotencyKeyReused: (
        422,
        "idempotency-key-reused",
        "This Idempotency-Key was used with another body",
    ),
    errors.InvalidDestination: (422, "invalid-destination", "The destination cannot be reached"),
    errors.TooManyAttempts: (429, "max-attempts-reached", "Too many checks"),
    errors.ResendTooSoon: (429, "resend-too-soon", "A new code cannot be sent yet"),
    errors.MaxSendsReached: (429, "max-sends-reached", "No more codes can be sent"),
    errors.RateLimited: (429, "rate-limited", "Too many requests"),
    errors.StoreCorrupted: (500, "internal-error", "Internal server error"),
    errors.DeliveryFailed: (502, "delivery-failed", "The code could not be delivered"),
    errors.StoreUnavailable: (503, "store-unavailable", "The service is temporarily unavailable"),
    errors.Overloaded: (503, "overloaded", "The service is overloaded"),
}

#: Werkzeug's HTTP errors (routing 404/405, 413, 415, ...) by status → type slug.
HTTP_SLUGS: Final[dict[int, str]] = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


def problem_type(slug: str) -> str:
    """The stable ``type`` URI of a problem slug."""
    return f"/problems/{slug}"


def problem_response(
    status: int, slug: str, title: str, detail: str, **extensions: Any
) -> Response:
    """A problem+json response; ``retry_after`` also sets the ``Retry-After`` header."""
    body = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "request_id": g.get("request_id"),
        **extensions,
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    if "retry_after" in extensions:
        response.headers["Retry-After"] = str(extensions["retry_after"])
    return response


def _extensions(error: errors.OTPError) -> dict[str, Any]:
    if isinstance(error, errors.InvalidDestination) and error.verification_id:
        return {"verification_id": error.verification_id}
    if isinstance(error, errors.VerificationNotFound | errors.PasskeyRejected) and error.reason:
        return {"reason": error.reason}
    if isinstance(error, errors.InvalidRequest):
        return {"errors": [{"field": e.field, "message": e.message} for e in error.errors]}
    if isinstance(error, errors.DeliveryFailed):
        extra: dict[str, Any] = {"retryable": error.retryable}
        if error.verification_id:
            extra["verification_id"] = error.verification_id
        if error.retryable:
            extra["retry_after"] = 30
        return extra
    if isinstance(error, errors.StoreUnavailable | errors.Overloaded):
        return {"retry_after": STORE_RETRY_AFTER_SECONDS}
    if isinstance(error, errors.TooManyAttempts):
        extra = {"retry_after": error.retry_after_seconds, "attempts_remaining": 0}
        if error.locked_until_ms:
            extra["locked_until"] = iso_timestamp(error.locked_until_ms)
        return extra
    if isinstance(error, errors.RateLimited):
        return {"retry_after": error.retry_after_seconds, "limit": error.limit}
    if isinstance(error, errors.SuspectedFraud):
        return {"prefix": error.prefix, "blocked_until": iso_timestamp(error.until_ms)}
    retry_after = getattr(error, "retry_after_seconds", None)
    return {"retry_after": retry_after} if retry_after is not None else {}


def handle_otp_error(error: errors.OTPError) -> Response:
    """Render a service error from the ``PROBLEMS`` table."""
    status, slug, title = PROBLEMS[type(error)]
    if status >= 500:
        logger.error("%s: %s", type(error).__name__, error, exc_info=error.__cause__ or error)
    detail = error.detail if status < 500 or status in (502, 503) else "Internal server error."
    return problem_response(status, slug, title, detail or title, **_extensions(error))


def handle_http_error(error: HTTPException) -> Response:
    """Render a Werkzeug HTTP error (routing, size, media type) as a problem."""
    status = error.code or 500
    slug = HTTP_SLUGS.get(status, "http-error")
    response = problem_response(status, slug, error.name, error.description or error.name)
    if status == 405 and error.response is None:
        allowed = getattr(error, "valid_methods", None) or []
        response.headers["Allow"] = ", ".join(allowed)
    return response


def handle_unexpected(error: Exception) -> Response:
    """The last resort: log everything, reveal nothing."""
    logger.exception("unhandled error", exc_info=error)
    return problem_response(
        500, "internal-error", "Internal server error", "Internal server error."
    )


def register_problem_handlers(app: Flask) -> None:
    """Make every error of ``app`` a problem+json response."""
    app.register_error_handler(errors.OTPError, handle_otp_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
