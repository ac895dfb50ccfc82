"""
Idempotent starts, with Stripe's ``Idempotency-Key`` semantics: the same key and body within 24
hours get the first answer again and send nothing; the same key with another body is refused;
while one request works on a key, the others wait briefly, then are told to retry.

Only an answer is kept: a request that failed (nothing was sent, or the sending failed) releases
its key, so that its retry runs again.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from otp_service.core.errors import (
    FieldError,
    IdempotencyConflict,
    IdempotencyKeyReused,
    InvalidRequest,
    StoreUnavailable,
)
from otp_service.core.models import Clock
from otp_service.verify.idempotency_store import IdempotencyStore, Retention

HEADER: Final = "Idempotency-Key"
#: Stripe's limit; visible ASCII only (a key goes into no log line, but into an HMAC).
MAX_KEY_LENGTH: Final = 255
_KEY: Final = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")
#: A key and its answer are kept 24 hours, as Stripe keeps them.
ANSWER_SECONDS: Final = 86_400
#: An unfinished claim (its worker died) frees the key after this long.
CLAIM_SECONDS: Final = 60
#: Bounded memory: each client keeps at most this many keys (the oldest are forgotten first).
MAX_KEYS_PER_CLIENT: Final = 100_000
RETENTION: Final = Retention(CLAIM_SECONDS * 1000, ANSWER_SECONDS * 1000, MAX_KEYS_PER_CLIENT)
#: How long a request waits for another one working on its key, and how often it looks.
WAIT_SECONDS: Final = 2.0
POLL_SECONDS: Final = 0.05
RETRY_AFTER_SECONDS: Final = 1


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer (status and JSON body), and whether it is a replay of an earlier one."""

    status: int
    body: str
    replayed: bool = False


def parse_key(raw: str) -> str:
    """
    The ``Idempotency-Key`` a request sent.

    Raises:
        InvalidRequest: empty, longer than 255 characters, or not visible ASCII.
    """
    if not _KEY.fullmatch(raw):
        message = f"must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (a UUID, say)"
        raise InvalidRequest([FieldError(HEADER, message)])
    return raw


def fingerprint(canonical_body: str) -> str:
    """What tells two bodies apart: the SHA-256 of the body's canonical JSON."""
    return hashlib.sha256(canonical_body.encode()).hexdigest()


class Idempotency:
    """Runs a request's work once per (client, key); replays its answer to the others."""

    def __init__(
        self, store: IdempotencyStore, clock: Clock, wait_seconds: float = WAIT_SECONDS
    ) -> None:
        self._store = store
        self._clock = clock
        self._wait_seconds = wait_seconds

    def run(self, client: str, key: str, body: str, work: Callable[[], Answer]) -> Answer:
        """
        ``work``'s answer, worked out once for ``client``'s ``key`` and ``body``.

        Raises:
            IdempotencyKeyReused: ``key`` came with another body (422).
            IdempotencyConflict: another request still works on ``key`` (409, retry soon).
            StoreUnavailable: Redis failed.
            whatever ``work`` raises (the key is then released).
        """
        token = secrets.token_hex(16)
        deadline = time.monotonic() + self._wait_seconds
        while True:
            claim = self._store.begin(client, key, fingerprint(body), token, self._clock.now_ms())
            if claim.state == "claimed":
                return self._work(client, key, token, work)
            if claim.state == "done":
                return Answer(claim.status, claim.body, replayed=True)
            if claim.state == "mismatch":
                raise IdempotencyKeyReused(f"This {HEADER} was used with another request body.")
            if time.monotonic() >= deadline:
                raise IdempotencyConflict(
                    RETRY_AFTER_SECONDS, f"A request with this {HEADER} is still in progress."
                )
            time.sleep(POLL_SECONDS)

    def _work(self, client: str, key: str, token: str, work: Callable[[], Answer]) -> Answer:
        try:
            answer = work()
        except BaseException:
            with contextlib.suppress(StoreUnavailable):  # unreleased, the claim expires by itself
                self._store.release(client, key, token)
            raise
        self._store.finish(client, key, token, answer.status, answer.body)
        return answer
