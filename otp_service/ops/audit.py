"""
The audit trail: one structured record per state change, to the log and, when
``OTP_AUDIT_STREAM`` is on, to a capped Redis Stream an operator can read (``XRANGE``).

Records carry the client, the masked destination, the verification id, the outcome, the request
id and the end user's IP when known: never a code, a hash or a full destination.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from otp_service.core.errors import StoreUnavailable
from otp_service.core.events import Event, current_request

audit_logger = logging.getLogger("otp_service.ops.audit")


def audit_fields(event: Event) -> dict[str, str]:
    """The flat record of ``event`` (strings only, empty facts left out)."""
    request = current_request.get()
    fields: dict[str, object] = {
        "event": event.kind.value,
        "client": event.client,
        "verification_id": event.verification_id,
        "channel": event.channel,
        "to": event.to,
        "outcome": event.outcome,
        "request_id": request.request_id,
        "ip": request.ip,
        **event.detail,
    }
    return {key: str(value) for key, value in fields.items() if value is not None}


class AuditTrail:
    """
    An ``EventSink`` writing each event to the audit log and, optionally, a stream.

    Args:
        append: writes one record to the audit stream (``AuditStream.append``), or None.
    """

    def __init__(self, append: Callable[[Mapping[str, str]], None] | None = None) -> None:
        self._append = append

    def record(self, event: Event) -> None:
        """Log ``event`` and append it to the stream."""
        fields = audit_fields(event)
        audit_logger.info(event.kind.value, extra={"audit": fields})
        if self._append is None:
            return
        try:
            self._append(fields)
        except StoreUnavailable:
            # The state change already happened in Redis; a lost audit line is logged, not fatal.
            audit_logger.error("audit stream write failed", extra={"audit": fields})
