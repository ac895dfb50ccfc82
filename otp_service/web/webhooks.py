"""
Provider webhooks: Twilio's message status callback (docs/delivery.md).

Twilio posts form-encoded statuses to the ``status_callback`` URL the SMS sender gave it; each
request is signed with the account's auth token over the full public URL and the form. Nothing
here trusts an unsigned request.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from flask import Blueprint, Response, g, request

from otp_service.core.errors import DeliveryFailed, InvalidDestination, InvalidSignature
from otp_service.delivery.twilio_sms import STATUS_CALLBACK_PATH, signature_is_valid
from otp_service.web.context import services
from otp_service.web.openapi import Operation, Reply, problem

logger = logging.getLogger("otp_service.web")

blueprint = Blueprint("webhooks", __name__)

#: The statuses worth keeping on a verification; others (accepted, sending, ...) are ignored.
RECORDED_STATUSES: Final = frozenset({"queued", "sent", "delivered", "undelivered", "failed"})
#: A call's ``CallStatus`` as a delivery status: answered is delivered; no answer, busy or failed
#: did not deliver the code.
CALL_STATUSES: Final = {
    "completed": "delivered",
    "no-answer": "undelivered",
    "busy": "undelivered",
    "canceled": "undelivered",
    "failed": "failed",
}
_VERIFICATION_ID: Final = re.compile(r"^vf_[0-9a-f]{32}$")


def _public_url() -> str:
    # Twilio signs the URL it was given, so rebuild it from the configured public base, not from
    # the Host header a proxy may have rewritten.
    base = services().settings.public_base_url.rstrip("/")
    query = request.query_string.decode("latin-1")
    return f"{base}{request.path}?{query}" if query else f"{base}{request.path}"


def _require_signature() -> None:
    settings = services().settings
    if not settings.public_base_url or not signature_is_valid(
        settings.twilio_auth_token,
        _public_url(),
        request.form,
        request.headers.get("X-Twilio-Signature", ""),
    ):
        raise InvalidSignature("The X-Twilio-Signature header is missing or not valid.")


@blueprint.post(STATUS_CALLBACK_PATH)
def twilio_status() -> Response:
    """
    Record the delivery status Twilio reports for a verification's SMS; 204 either way.

    Raises:
        InvalidSignature: the request is not signed by Twilio for this URL (403).
    """
    _require_signature()
    verification_id = request.args.get("verification_id", "")
    status = request.form.get("MessageStatus") or CALL_STATUSES.get(
        request.form.get("CallStatus", ""), ""
    )
    if _VERIFICATION_ID.match(verification_id) and status in RECORDED_STATUSES:
        g.verification_id = verification_id
        services().store.record_delivery(verification_id, status)
        if status in ("undelivered", "failed"):
            _fall_back(verification_id)
    return Response(status=204)


OPERATIONS: Final = (
    Operation(
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
    ),
)


def _fall_back(verification_id: str) -> None:
    """The next channel of the verification's start gets a new code (Twilio gets its 204 anyway)."""
    verification = services().store.load(verification_id)
    clients = services().settings.api_keys
    client = next((c for c in clients if verification and c.name == verification.client), None)
    if client is None:
        return
    try:
        services().verifications.fall_back_if_undelivered(client, verification_id)
    except (DeliveryFailed, InvalidDestination) as error:
        logger.warning("The fallback channel refused the message too: %s", error)
