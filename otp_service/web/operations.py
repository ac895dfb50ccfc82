"""
The documented operations of the routes whose modules list none of their own ``OPERATIONS`` (yet):
web/verifications.py (the /v1 API), web/totp.py, web/webhooks.py,
web/twilio_verify.py (/v2) and web/dev.py. Moving a block next to its routes, as that module's
``OPERATIONS``, leaves the document unchanged.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel

from otp_service.web.openapi import Operation, Reply, problem, text
from otp_service.web.schemas import (
    CheckDestinationRequest,
    CheckResponse,
    CheckVerificationRequest,
    StartVerificationRequest,
    VerificationResponse,
)
from otp_service.web.totp_schemas import (
    ActivateFactorRequest,
    BackupCodesResponse,
    EnrollFactorRequest,
    EnrolmentResponse,
    FactorResponse,
    TotpCheckRequest,
    TotpCheckResponse,
)
from otp_service.web.twilio_verify_schemas import (
    CreateVerificationForm,
    TwilioVerification,
    TwilioVerificationCheck,
    UpdateVerificationForm,
    VerificationCheckForm,
)

_DEV_ONLY: Final = "Development only (`OTP_ENV=development`); absent in production."
_VERIFICATION_ID: Final = {"verification_id": "The verification's id: `vf_` and 32 hex digits."}
_Responses = dict[int, type[BaseModel] | Reply]
_BODY: Final[_Responses] = {
    400: problem("The body is not a JSON object (`malformed-body`)."),
    413: problem("The body is over 16 KiB (`payload-too-large`)."),
    415: problem("The body is not `application/json` (`unsupported-media-type`)."),
}
_STORE: Final[_Responses] = {
    503: problem("Redis failed: nothing is approved (`store-unavailable`).")
}


def _key(scope: str) -> _Responses:
    return {
        401: problem("No API key, or one that is not known (`unauthorized`)."),
        403: problem(f"The API key lacks the `{scope}` scope (`forbidden`)."),
    }


def _check(path: str, summary: str, request: type[BaseModel], not_found: str) -> Operation:
    valid = "Checked: `valid` says whether the code was right; a wrong code is not an error."
    return Operation(
        "post",
        path,
        summary,
        {
            200: Reply(valid, CheckResponse),
            **_BODY,
            **_key("verifications:check"),
            404: problem(f"{not_found} (`verification-not-found`)."),
            422: problem("The code is not digits of the right length (`validation-error`)."),
            429: problem("Every check has been used (`max-attempts-reached`)."),
            **_STORE,
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
            **_key("verifications:start"),
            404: problem(not_found),
            **_STORE,
        },
        tags=("verifications",),
        path_parameters=_VERIFICATION_ID,
    )


def _page(path: str, summary: str, media_type: str, what: str, *tags: str) -> Operation:
    reply = (
        Reply(what, schema={"type": "object"}) if media_type == "json" else text(media_type, what)
    )
    return Operation("get", path, summary, {200: reply}, tags=tags, security=())


def _loopback_page(path: str, summary: str, media_type: str, what: str) -> Operation:
    reply = (
        Reply(what, schema={"type": "object"}) if media_type == "json" else text(media_type, what)
    )
    hidden = problem("Not asked by a loopback peer for a loopback `Host` (`not-found`).")
    responses = {200: reply, 404: hidden}
    return Operation("get", path, summary, responses, tags=("development",), security=())


_START: Final = Operation(
    "post",
    "/v1/verifications",
    "Start a verification (send a code), or resend the pending one",
    {
        200: Reply(
            "Resent: the destination's pending verification, a new code.", VerificationResponse
        ),
        201: Reply("Started: a code was sent.", VerificationResponse),
        **_BODY,
        **_key("verifications:start"),
        403: problem(
            "The API key lacks the `verifications:start` scope (`forbidden`), or the channel or "
            "the country is not allowed (`channel-not-allowed`, `country-not-allowed`)."
        ),
        422: problem("`to` or `channel` is not valid (`validation-error`, `invalid-destination`)."),
        429: problem(
            "Not now: `resend-too-soon`, `max-sends-reached`, `max-attempts-reached` or "
            "`rate-limited`."
        ),
        502: problem("The provider did not take the message (`delivery-failed`; see `retryable`)."),
        **_STORE,
    },
    request=StartVerificationRequest,
    description="A pending verification of the same client, channel and `to` is resent instead.",
    tags=("verifications",),
)
_VERIFICATIONS: Final = (
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
_DEV_PAGES: Final = (
    _page("/try", "Try a login in a browser", "text/html", _DEV_ONLY, "development"),
    _loopback_page("/dev/outbox", "The dev outbox", "text/html", _DEV_ONLY),
    _loopback_page("/dev/outbox.json", "The dev outbox as JSON", "json", _DEV_ONLY),
)


# /v1/totp (web/totp.py) -------------------------------------------------------------------------

_FACTOR_ID: Final = {"factor_id": "The factor's id: `tf_` and 32 hex digits."}
_NO_FACTOR: Final = problem("No such factor of this client (`factor-not-found`).")


def _totp(method: str, path: str, summary: str, responses: _Responses, **extra: Any) -> Operation:
    key = _key("totp")
    return Operation(method, path, summary, {**key, **responses, **_STORE}, tags=("totp",), **extra)


_TOTP: Final = (
    _totp(
        "post",
        "/v1/totp/factors",
        "Enrol a TOTP factor (its secret is shown once)",
        {
            201: Reply("Enrolled, unverified: the secret, URI and QR code.", EnrolmentResponse),
            **_BODY,
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
            **_BODY,
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
            **_BODY,
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

_WEBHOOK: Final = Operation(
    "post",
    "/v1/webhooks/twilio/status",
    "Twilio's message status callback",
    {
        204: Reply("Recorded, or ignored (an unknown verification or status)."),
        403: problem("Not signed by Twilio for this URL (`invalid-signature`)."),
        503: problem("Redis failed (`store-unavailable`)."),
    },
    description="Twilio posts `application/x-www-form-urlencoded` statuses to the URL the SMS "
    "sender gave it (`OTP_PUBLIC_BASE_URL` + this path + `?verification_id=`).",
    tags=("webhooks",),
    security=("twilioSignature",),
)


# /v2 (web/twilio_verify.py): Twilio Verify's own shapes ------------------------------------------

_FORM: Final = "application/x-www-form-urlencoded"
_TWILIO_ERROR: Final = {
    "type": "object",
    "required": ["code", "message", "more_info", "status"],
    "properties": {
        "code": {"type": "integer", "description": "Twilio's error code."},
        "message": {"type": "string"},
        "more_info": {"type": "string"},
        "status": {"type": "integer"},
    },
}
_V2_PATH: Final = {
    "service_sid": "A service SID of `OTP_TWILIO_VERIFY_ACCOUNTS`.",
    "sid": "A verification SID: `VE` and 32 hex digits.",
    "resource": "Any other resource.",
}


def _twilio_error(description: str) -> Reply:
    return Reply(description, schema=_TWILIO_ERROR)


_V2_ERRORS: Final[_Responses] = {
    400: _twilio_error("Invalid parameter (60200), or the channel is disabled (60223)."),
    401: _twilio_error("No valid account SID and auth token (20003)."),
    403: _twilio_error("Not allowed for this account (20403), or blocked (60605, 60410)."),
    404: _twilio_error("No such service or verification (20404)."),
    429: _twilio_error("Too many checks (60202), sends (60203) or requests (20429)."),
    503: _twilio_error("Redis or the provider failed (20503)."),
}


def _v2(
    method: str, path: str, summary: str, success: tuple[int, Reply], **extra: Any
) -> Operation:
    return Operation(
        method,
        path,
        summary,
        {success[0]: success[1], **_V2_ERRORS},
        tags=("twilio-verify",),
        security=("twilioAccount",),
        path_parameters=_V2_PATH,
        request_media_type=_FORM,
        **extra,
    )


_V2: Final = (
    _v2(
        "post",
        "/v2/Services/{service_sid}/Verifications",
        "Start a verification (Twilio Verify)",
        (201, Reply("Started, or the pending one resent.", TwilioVerification)),
        request=CreateVerificationForm,
    ),
    _v2(
        "get",
        "/v2/Services/{service_sid}/Verifications/{sid}",
        "Fetch a verification (Twilio Verify)",
        (200, Reply("The verification.", TwilioVerification)),
    ),
    _v2(
        "post",
        "/v2/Services/{service_sid}/Verifications/{sid}",
        "Cancel, or approve without a code (Twilio Verify)",
        (200, Reply("The verification.", TwilioVerification)),
        request=UpdateVerificationForm,
    ),
    _v2(
        "post",
        "/v2/Services/{service_sid}/VerificationCheck",
        "Check a code (Twilio Verify)",
        (200, Reply("Checked: `valid` says whether the code was right.", TwilioVerificationCheck)),
        request=VerificationCheckForm,
    ),
    *(
        Operation(
            method,
            "/v2/{resource}",
            "Any other /v2 resource",
            {404: _twilio_error("Twilio's 20404, in Twilio's shape.")},
            tags=("twilio-verify",),
            security=(),
            path_parameters=_V2_PATH,
        )
        for method in ("get", "post", "put", "patch", "delete")
    ),
)

OPERATIONS: Final = (*_VERIFICATIONS, *_TOTP, _WEBHOOK, *_V2, *_DEV_PAGES)
