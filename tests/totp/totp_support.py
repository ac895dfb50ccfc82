"""
Helpers of the TOTP tests: an independent RFC 4226 oracle (no pyotp), seeds, keys, a service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from otp_service.core.codes import CodeHasher
from otp_service.core.events import Event
from otp_service.core.models import Client, Policy, Scope
from otp_service.totp.authenticator import new_secret
from otp_service.totp.keys import TotpKeyring
from otp_service.totp.models import Enrolment
from otp_service.totp.service import TotpService
from otp_service.totp.store import TotpStore
from tests.support import KEYS, NAME_KEY, PEPPER, FakeClock, key_sha256

#: The seeds of RFC 6238 Appendix B (and RFC 4226 Appendix D for SHA1).
SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
KEY_1 = bytes(range(32))
KEY_2 = bytes(range(32, 64))
SUBJECT = "user-42"


def b32(raw: bytes) -> str:
    """The base32 form of a secret, as authenticator apps take it."""
    return base64.b32encode(raw).decode()


def hotp(secret: str, counter: int, digits: int = 6, algorithm: str = "SHA1") -> str:
    """RFC 4226 section 5.3, written out: the oracle the service is checked against."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, counter.to_bytes(8, "big"), algorithm.lower()).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFF_FFFF
    return str(value % 10**digits).zfill(digits)


def code_at(secret: str, now_ms: int, offset_steps: int = 0, digits: int = 6) -> str:
    """The TOTP code of the step ``offset_steps`` away from the one of ``now_ms``."""
    return hotp(secret, now_ms // 30_000 + offset_steps, digits)


def wrong_code(secret: str, now_ms: int, digits: int = 6) -> str:
    """A code valid for no step within the tolerance of ``now_ms``."""
    valid = {code_at(secret, now_ms, offset, digits) for offset in (-1, 0, 1)}
    return next(c for c in (str(n).zfill(digits) for n in range(4)) if c not in valid)


def totp_client(name: str = "acme", policy: Policy | None = None) -> Client:
    """A test client with every scope."""
    return Client(name, key_sha256(KEYS[name]), frozenset(Scope), policy or Policy())


@dataclass
class EventLog:
    """A sink that keeps every event."""

    events: list[Event] = field(default_factory=list)

    def record(self, event: Event) -> None:
        """Keep ``event``."""
        self.events.append(event)

    def outcomes(self) -> list[str | None]:
        """The outcome of every event, in order."""
        return [event.outcome for event in self.events]


@dataclass
class TotpRig:
    """A ``TotpService`` on the test Redis, and what the tests need to reach into it."""

    redis_client: redis.Redis
    prefix: str
    clock: FakeClock
    events: EventLog = field(default_factory=EventLog)

    @property
    def store(self) -> TotpStore:
        """A store on the test prefix."""
        return TotpStore(self.redis_client, self.prefix, name_key=NAME_KEY)

    def service(
        self,
        keys: tuple[bytes, ...] = (KEY_1,),
        secret: Callable[[], str] = new_secret,
    ) -> TotpService:
        """A service with this keyring and secret factory."""
        return TotpService(
            self.store,
            TotpKeyring(keys),
            CodeHasher(PEPPER, "test"),
            self.clock,
            self.events,
            secret_factory=secret,
        )

    def enrolled(self, service: TotpService, client: Client, subject: str = SUBJECT) -> Enrolment:
        """Enrol and activate a factor for ``subject`` now."""
        enrolment = service.enroll(client, subject)
        code = code_at(enrolment.secret, self.clock.now_ms())
        service.activate(client, enrolment.factor.id, code)
        return enrolment

    def next_step(self) -> None:
        """Move to the next 30 s step (so a fresh code is not a replay)."""
        self.clock.advance(30)


def digest_hex(text: str) -> str:
    """SHA-256 hex, as the subject index named subjects before keyed digests."""
    return hashlib.sha256(text.encode()).hexdigest()
