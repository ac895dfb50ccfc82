"""
Which engine events are webhook events, and of which type.

Types that happen at most once per resource (a verification is approved once) get a webhook id
derived from the resource, so an event recorded twice (a job run again) is one message to the
receiver, who deduplicates by ``webhook-id`` as Standard Webhooks asks.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from otp_service.core.events import Event, EventKind

_BY_KIND: Final = {
    EventKind.STARTED: "verification.started",
    EventKind.APPROVED: "verification.approved",
    EventKind.CANCELED: "verification.canceled",
    EventKind.EXPIRED: "verification.expired",
    EventKind.EXPIRED_ON_CHECK: "verification.expired",
    EventKind.LOCKED: "verification.max_attempts_reached",
    EventKind.DELIVERY_FAILED: "verification.delivery_failed",
    EventKind.LOCK_APPLIED: "lock.applied",
}
#: Types whose resource goes through them once: their webhook id names the resource.
ONCE: Final = frozenset(
    {
        "verification.started",
        "verification.approved",
        "verification.canceled",
        "verification.expired",
        "verification.max_attempts_reached",
        "totp.factor.verified",
        "passkey.registered",
    }
)


def webhook_type(event: Event) -> str | None:
    """The webhook type of ``event``, or None when it is not one."""
    if event.kind.value == "passkey.registered":
        return "passkey.registered"
    if event.kind is EventKind.TOTP:
        return "totp.factor.verified" if event.outcome == "activated" else None
    if event.kind is EventKind.CHECKED:
        # The wrong code that used the last check.
        used_up = event.outcome == "wrong_code" and event.detail.get("attempts_remaining") == 0
        return "verification.max_attempts_reached" if used_up else None
    return _BY_KIND.get(event.kind)


def resource_id(event: Event) -> str:
    """The id of what the event is about (a verification, factor or passkey), or ''."""
    for name in ("factor_id", "passkey_id"):
        value = event.detail.get(name)
        if isinstance(value, str):
            return value
    return event.verification_id or ""


def webhook_id(event_type: str, event: Event) -> str:
    """The ``webhook-id`` of one event: named by its resource for ``ONCE`` types, else random."""
    resource = resource_id(event)
    if event_type in ONCE and resource:
        digest = hashlib.sha256(f"{event_type}\0{event.client}\0{resource}".encode()).hexdigest()
        return "msg_" + digest[:32]
    return "msg_" + secrets.token_hex(16)
