"""
TwilioWhatsAppSender: codes by WhatsApp through Twilio's Messages API.

WhatsApp accepts authentication codes only as an approved authentication template: the message
names the template (``ContentSid``) and gives the code as its variable (``ContentVariables``),
never a free-text ``Body`` (refused since 2025, error 63016). Numbers are ``whatsapp:+E164``.
"""

from __future__ import annotations

import json
from typing import Any

from otp_service.core.models import OutboundMessage, Receipt
from otp_service.delivery.twilio_sms import created_by_twilio, status_callback_url

PREFIX = "whatsapp:"


def whatsapp_address(number: str) -> str:
    """``+E164`` or ``whatsapp:+E164`` as Twilio's WhatsApp address."""
    return number if number.startswith(PREFIX) else PREFIX + number


class TwilioWhatsAppSender:
    """
    Sends an approved authentication template by WhatsApp.

    Args:
        client: a ``twilio.rest.Client`` (see ``twilio_client``).
        from_: the WhatsApp sender, ``+E164`` or ``whatsapp:+E164``.
        content_sid: the approved authentication template (``HX...``); its one variable is the code.
        public_base_url: the service's public URL; when set, messages carry a status callback.
    """

    provider = "twilio"

    def __init__(
        self, client: Any, *, from_: str, content_sid: str, public_base_url: str = ""
    ) -> None:
        if not (from_ and content_sid):
            raise ValueError("a WhatsApp sender and an approved content template are required")
        self._client = client
        self._from = whatsapp_address(from_)
        self._content_sid = content_sid
        self._public_base_url = public_base_url

    def send(self, message: OutboundMessage) -> Receipt:
        """
        Hand the template with ``message``'s code to Twilio.

        Raises:
            InvalidDestination: the number has no WhatsApp account (or is not valid).
            DeliveryFailed: the template or the sender is refused, or Twilio failed.
        """
        options: dict[str, str | int] = {
            "from_": self._from,
            "content_sid": self._content_sid,
            "content_variables": json.dumps(dict(message.template_variables or {})),
        }
        if message.valid_seconds is not None:
            options["validity_period"] = max(message.valid_seconds, 1)
        if self._public_base_url:
            options["status_callback"] = status_callback_url(
                self._public_base_url, message.verification_id
            )
        to = whatsapp_address(message.to)
        created = created_by_twilio(
            message.to, lambda: self._client.messages.create(to=to, **options)
        )
        return Receipt(self.provider, str(created.sid), str(created.status or "queued"))
