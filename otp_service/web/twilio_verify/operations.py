"""The OpenAPI operations of the Twilio Verify v2 face (``/v2``): Twilio's own shapes."""

from __future__ import annotations

from typing import Any, Final

from otp_service.web.openapi import Operation, Reply, Responses
from otp_service.web.twilio_verify.schemas import (
    CreateVerificationForm,
    TwilioVerification,
    TwilioVerificationCheck,
    UpdateVerificationForm,
    VerificationCheckForm,
)

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


V2_ERRORS: Final[Responses] = {
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
        {success[0]: success[1], **V2_ERRORS},
        tags=("twilio-verify",),
        security=("twilioAccount",),
        path_parameters=_V2_PATH,
        request_media_type=_FORM,
        **extra,
    )


OPERATIONS: Final = (
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
