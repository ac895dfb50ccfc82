"""
Value objects shared by every layer: channels, statuses, clients and their policies, verifications.

Plain Python only: nothing here knows about Flask, Redis or a vendor.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

import idna

from otp_service.core.transactions import Transaction


class Channel(enum.StrEnum):
    """How a code reaches a person."""

    SMS = "sms"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    VOICE = "voice"


#: The channels that reach a phone number (and are billed per destination).
PHONE_CHANNELS: Final = frozenset({Channel.SMS, Channel.WHATSAPP, Channel.VOICE})


class Status(enum.StrEnum):
    """The life cycle of a verification, as Twilio Verify names it."""

    PENDING = "pending"
    APPROVED = "approved"
    CANCELED = "canceled"
    EXPIRED = "expired"
    MAX_ATTEMPTS_REACHED = "max_attempts_reached"
    FAILED = "failed"


class Scope(enum.StrEnum):
    """What an API key may do."""

    START = "verifications:start"
    CHECK = "verifications:check"
    TOTP = "totp"
    PASSKEYS = "passkeys"
    ADMIN = "admin"


#: Seconds of each step of escalating lockouts, shortest first (``OTP_LOCKOUT_SCHEDULE``'s default):
#: 1 min, 5 min, 15 min, 1 h, then 24 h each time.
DEFAULT_LOCKOUT_SCHEDULE: Final = (60, 300, 900, 3600, 86_400)


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules one client's verifications follow (settings' defaults, overridable per client)."""

    code_length: int = 6
    code_ttl_seconds: int = 600
    max_attempts: int = 5
    max_sends: int = 5
    resend_cooldown_seconds: int = 30
    channels: frozenset[Channel] = frozenset(Channel)
    brand_name: str = "otp-service"
    webotp_domain: str | None = None
    default_locale: str = "en"
    #: Rate limits, as ``limits`` specs ("5/10minutes;10/day"): see the README's Security table.
    destination_sends: str = "5/10minutes;10/day"
    client_starts: str = "1000/minute"
    ip_starts: str = "20/hour"
    destination_failures: str = "10/hour"
    #: Sends per client on one channel (``(("voice", "100/hour"),)``); a channel not named has
    #: no limit of its own.
    channel_sends: tuple[tuple[Channel, str], ...] = ()
    #: ISO 3166 codes SMS may go to; empty means every country.
    sms_allowed_countries: frozenset[str] = frozenset()
    #: Whether ``context.ip`` (``DeviceIp``) is believed; None: when the key can do more than
    #: start (a server's key, not a mobile app's).
    trust_context_ip: bool | None = None
    #: The pumping guard (docs/fraud.md): unverified sends any prefix may have, the share of its
    #: expected conversion below which it is suspect, and how long a block lasts.
    fraud_allowance: int = 15
    fraud_ratio: float = 0.5
    fraud_block_seconds: int = 43_200


@dataclass(frozen=True, slots=True)
class Client:
    """A caller of the API, known by the SHA-256 of its API key."""

    name: str
    key_sha256: str
    scopes: frozenset[Scope]
    policy: Policy = field(default_factory=Policy)

    @property
    def trusts_context_ip(self) -> bool:
        """Whether the end-user IP this client passes is believed (see ``Policy``)."""
        if self.policy.trust_context_ip is not None:
            return self.policy.trust_context_ip
        return self.scopes != {Scope.START}


@dataclass(frozen=True, slots=True)
class Verification:
    """
    One code sent to one destination, as stored.

    ``to`` is the full destination: mask it for output.
    """

    id: str
    client: str
    channel: Channel
    to: str
    status: Status
    attempts: int
    max_attempts: int
    sends: int
    max_sends: int
    created_ms: int
    expires_ms: int
    next_send_ms: int
    updated_ms: int = 0
    delivery_status: str | None = None
    locale: str = "en"
    #: Consecutive failed checks of this destination when the verification started.
    dest_failures: int = 0
    #: The PSD2 transaction the code authorises, bound into its hash; None for a plain code.
    transaction: Transaction | None = None
    #: The channel of the first send when a fallback changed it ('' : ``channel``).
    first_channel: str = ""
    #: Every send after the first, ``<channel>@<ms>`` separated by commas.
    send_log: str = ""
    #: The channels still to fall back to, in order, separated by commas.
    fallbacks: str = ""

    @property
    def fallback_channels(self) -> tuple[Channel, ...]:
        """The channels still to fall back to, first one first."""
        return tuple(Channel(name) for name in self.fallbacks.split(",") if name)

    @property
    def sends_made(self) -> list[tuple[Channel, int]]:
        """Each send, oldest first: its channel and when it was made."""
        made = [(Channel(self.first_channel or self.channel), self.created_ms)]
        for entry in filter(None, self.send_log.split(",")):
            channel, _, at_ms = entry.partition("@")
            made.append((Channel(channel), int(at_ms)))
        return made

    @property
    def attempts_remaining(self) -> int:
        """Checks still allowed (never negative)."""
        return max(self.max_attempts - self.attempts, 0)

    @property
    def sends_remaining(self) -> int:
        """Sends (first send included) still allowed (never negative)."""
        return max(self.max_sends - self.sends, 0)

    def status_at(self, now_ms: int) -> Status:
        """The status a caller sees at ``now_ms`` (a pending one past its expiry is expired)."""
        if self.status is Status.PENDING:
            if now_ms >= self.expires_ms:
                return Status.EXPIRED
            if self.attempts >= self.max_attempts:
                return Status.MAX_ATTEMPTS_REACHED
        return self.status


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of checking a code: a wrong code is a value (``valid=False``), not an error."""

    verification_id: str
    status: Status
    valid: bool
    attempts_remaining: int


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What a sender delivers: already rendered, one per send."""

    channel: Channel
    to: str
    text: str
    verification_id: str
    subject: str | None = None
    html: str | None = None
    locale: str = "en"
    #: Seconds the code has left: a message not delivered by then is worth nothing.
    valid_seconds: int | None = None
    #: The variables of a provider's approved template (WhatsApp authentication), if any.
    template_variables: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a sender reports after handing a message over."""

    provider: str
    message_id: str
    status: str = "sent"


class Clock(Protocol):
    """A source of wall-clock time in milliseconds (injected so tests can move time)."""

    def now_ms(self) -> int:
        """Milliseconds since the epoch."""
        ...


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        """Milliseconds since the epoch, from the system clock."""
        return time.time_ns() // 1_000_000


def seconds_until(until_ms: int, now_ms: int) -> int:
    """Whole seconds from ``now_ms`` to ``until_ms``, at least 1 (for ``Retry-After``)."""
    return max(math.ceil((until_ms - now_ms) / 1000), 1)


def canonical_destination(to: str) -> str:
    """
    The form limits, lockouts and the pending-verification index know a destination by.

    An email address: lowercase, the domain in IDNA (ASCII) form, a ``+tag`` removed, so that
    ``Victim+x@Corp.example`` is ``victim@corp.example``. A phone number (E.164) is itself.
    """
    local, at, domain = to.rpartition("@")
    if not at:
        return to
    local = local.split("+", 1)[0].lower()
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        domain = domain.lower()
    return f"{local}@{domain.lower()}"


def destination_digest(to: str, key: bytes) -> str:
    """
    What keys name a destination by, never the destination itself: the first 128 bits of the
    HMAC-SHA256 under ``key`` (see ``key_name_key``) of its canonical form, in base64url (22
    characters). A plain hash would not hide it: every phone number of a country can be hashed in
    seconds.
    """
    return name_digest(canonical_destination(to), key)


def name_digest(text: str, key: bytes) -> str:
    """The first 128 bits of the HMAC-SHA256 of ``text`` under ``key``, in base64url (22 chars)."""
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def key_name_key(pepper: bytes) -> bytes:
    """The secret key names hash destinations under: derived from the pepper, for this use only."""
    return hmac.new(pepper, b"otp-service key names v1", hashlib.sha256).digest()


def mask_destination(to: str) -> str:
    """
    Hide most of a phone number or email address, for responses and logs.

    ``+14155550100`` becomes ``+1415*****00``; ``alice@example.com`` becomes ``a***@example.com``.
    """
    if "@" in to:
        local, _, domain = to.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if len(to) <= 7:
        return to[:2] + "*" * max(len(to) - 2, 0)
    return to[:5] + "*" * (len(to) - 7) + to[-2:]
