"""
DevSender: keeps messages in a capped Redis list and logs them loudly. Development only.

Settings validation refuses it when ``OTP_ENV=production``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Protocol

from otp_service.core.models import OutboundMessage, Receipt

logger = logging.getLogger("otp_service.dev_delivery")


class Outbox(Protocol):
    """Where dev messages are kept (``DevOutbox`` is one)."""

    def push_dev_message(self, message: dict[str, str | None]) -> None:
        """Keep one message."""
        ...


class DevSender:
    """Delivers nothing: writes the message to the dev outbox and the log, code included."""

    provider = "dev"

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def send(self, message: OutboundMessage) -> Receipt:
        """Keep ``message`` in the dev outbox and log it at WARNING, code and all."""
        message_id = "dev_" + secrets.token_hex(8)
        self._outbox.push_dev_message(
            {
                "id": message_id,
                "channel": message.channel.value,
                "to": message.to,
                "subject": message.subject,
                "text": message.text,
                "html": message.html,
                "verification_id": message.verification_id,
                "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        logger.warning(
            "DEV DELIVERY %s to %s: %s",
            message.channel.value,
            message.to,
            message.text,
            extra={"dev_delivery": True},
        )
        return Receipt(provider=self.provider, message_id=message_id, status="delivered")
