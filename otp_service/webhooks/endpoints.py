"""
Endpoints: where a client's webhooks go (``OTP_WEBHOOKS``), and the event types there are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final

#: Every event type a webhook endpoint may subscribe to (Standard Webhooks' ``type``).
EVENT_TYPES: Final = (
    "verification.started",
    "verification.approved",
    "verification.canceled",
    "verification.expired",
    "verification.max_attempts_reached",
    "verification.delivery_failed",
    "totp.factor.verified",
    "passkey.registered",
    "lock.applied",
)
#: Standard Webhooks' retry schedule: the first try at once, then after each failure wait this
#: long (seconds): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; eight tries in all.
RETRY_SCHEDULE: Final = (0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One client's webhook endpoint: its URL, its ``whsec_`` signing secret, its event types."""

    client: str
    url: str
    secret: str = field(repr=False)
    events: frozenset[str]

    @property
    def id(self) -> str:
        """A stable name of the endpoint that jobs carry (never its URL, which may hold a token)."""
        digest = hashlib.sha256(f"{self.client}\0{self.url}".encode()).hexdigest()
        return "ep_" + digest[:24]

    @property
    def state_id(self) -> str:
        """
        The name its disabled mark (after a 410) is kept under: a new secret or URL starts afresh.
        """
        digest = hashlib.sha256(f"{self.client}\0{self.url}\0{self.secret}".encode()).hexdigest()
        return digest[:32]

    def wants(self, client: str, event_type: str) -> bool:
        """Whether this endpoint gets ``event_type`` events of ``client``."""
        return client == self.client and event_type in self.events
