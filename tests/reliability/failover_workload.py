"""
The workload of the failover tests, against a production-mode gunicorn that emails codes to an
aiosmtpd inbox on the loopback: each client thread runs verifications one after another: a start,
sometimes a resend and a replay of the superseded code, wrong guesses (sometimes past the budget),
ten concurrent checks of the right code, a replay of it, and a GET. Every call is recorded with
its times and answer, for ``tests.reliability.history``.
"""

from __future__ import annotations

import email
import itertools
import json
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email.policy import default as default_policy

import requests
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.gunicorn_server import running_gunicorn
from tests.reliability.support import BEARER, Outcome, smtp_environ, timed_call, wrong_code
from tests.servers.smtp import Mailbox, SmtpServer, plain_text
from tests.support import KEYS, PEPPER, code_in, key_sha256

MAX_ATTEMPTS = 5
TTL_SECONDS = 600
CONCURRENT_CHECKS = 10
#: Up to how long a user takes to type the code (a verification spans a failover more often).
THINK_SECONDS = 1.5
#: Replays go to one of this many verifications finished last.
RECENT = 300
#: How many earlier verifications each one replays when it is done.
REPLAYS = 2
#: No call may take longer than this: the Redis timeout, a retry and a loaded machine.
CALL_TIMEOUT_SECONDS = 15.0
CLIENT = {
    "name": "acme",
    "key_sha256": key_sha256(KEYS["acme"]),
    "scopes": ["verifications:start", "verifications:check"],
    "policy": {
        "channels": ["email"],
        "client_starts": "100000/minute",
        "destination_sends": "100/minute",
        "max_attempts": MAX_ATTEMPTS,
        "max_sends": 5,
        "resend_cooldown_seconds": 0,
        "code_ttl_seconds": TTL_SECONDS,
    },
}
_ADDRESSES = itertools.count(1)


class CodeInbox(Mailbox):
    """An aiosmtpd handler that keeps the codes each address received, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: dict[str, list[str]] = defaultdict(list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the code of the message under each recipient."""
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        code = code_in(plain_text(message))
        with self._lock:
            for address in envelope.rcpt_tos:
                self.codes[address.lower()].append(code)
        return "250 Message accepted for delivery"

    def count(self, address: str) -> int:
        """How many codes ``address`` received."""
        with self._lock:
            return len(self.codes[address])

    def newest_since(self, address: str, count: int) -> str | None:
        """The newest code ``address`` received after its first ``count``, if any."""
        with self._lock:
            codes = self.codes[address]
            return codes[-1] if len(codes) > count else None


def production_environ(redis_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    """Production settings (real argon2 profile, SMTP delivery) for gunicorn on ``redis_url``."""
    return {
        "OTP_ENV": "production",
        "OTP_REDIS_URL": redis_url,
        "OTP_REDIS_PREFIX": "failover",
        "OTP_PEPPER": PEPPER.decode(),
        "OTP_API_KEYS": json.dumps([CLIENT]),
        "OTP_SMS_PROVIDER": "none",
        "OTP_LOG_LEVEL": "ERROR",
        **smtp_environ(smtp_port),
        **extra,
    }


@contextmanager
def production_service(redis_url: str, **extra: str) -> Iterator[tuple[str, CodeInbox]]:
    """gunicorn (2 workers x 8 threads) on ``redis_url``, and the inbox its emails reach."""
    inbox = CodeInbox()
    with (
        SmtpServer(inbox) as smtp,
        running_gunicorn(production_environ(redis_url, smtp.port, **extra), 2, 8) as base,
    ):
        yield base, inbox


@dataclass
class Workload:
    """Client threads running verifications until a deadline; every call recorded."""

    base: str
    inbox: CodeInbox
    outcomes: list[Outcome] = field(default_factory=list)
    #: Finished verifications: (id, last right code, superseded code or None), for late replays.
    finished: list[tuple[str, str, str | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, clients: int, seconds: float, seed: int) -> None:
        """Run ``clients`` threads for ``seconds`` (verifications in flight finish)."""
        deadline = time.monotonic() + seconds
        threads = [
            threading.Thread(target=self._client, args=(seed * 1000 + n, deadline), daemon=True)
            for n in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 120)

    def _client(self, seed: int, deadline: float) -> None:
        rng = random.Random(seed)
        sessions = [requests.Session() for _ in range(CONCURRENT_CHECKS)]
        with ThreadPoolExecutor(CONCURRENT_CHECKS) as pool:
            while time.monotonic() < deadline:
                Verification(self, sessions, pool, rng).run()
        for session in sessions:
            session.close()

    def record(self, outcome: Outcome) -> Outcome:
        """Keep ``outcome`` in the history."""
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def remember(self, verification_id: str, code: str, superseded: str | None) -> None:
        """Keep a finished verification for later replays."""
        with self._lock:
            self.finished.append((verification_id, code, superseded))

    def earlier(self, rng: random.Random) -> tuple[str, str, str | None] | None:
        """One of the last verifications finished (a lost write shows within ~20 s), if any."""
        with self._lock:
            return rng.choice(self.finished[-RECENT:]) if self.finished else None

    def history(self) -> list[Outcome]:
        """Every call so far."""
        with self._lock:
            return list(self.outcomes)


class Verification:
    """One verification's calls, from one client thread, then replays of an earlier one."""

    def __init__(
        self,
        workload: Workload,
        sessions: list[requests.Session],
        pool: ThreadPoolExecutor,
        rng: random.Random,
    ) -> None:
        self.workload = workload
        self.sessions = sessions
        self.pool = pool
        self.rng = rng
        self.address = f"user{next(_ADDRESSES)}@example.com"
        self.id: str | None = None

    def run(self) -> None:
        """Start, maybe resend, guess, check concurrently, replay, read."""
        start = self.send("start")
        if start.status != 201 or start.code is None:
            time.sleep(0.05)  # Redis is down: do not spin
            return
        self.id, code = start.body["id"], start.code
        superseded = None
        if self.rng.random() < 0.4:
            superseded, code = self.resend(code)
        guesses = MAX_ATTEMPTS + 2 if self.rng.random() < 0.25 else self.rng.randint(0, 3)
        for _ in range(guesses):
            self.check(wrong_code(code))
        time.sleep(self.rng.uniform(0, THINK_SECONDS))  # the user types the code
        list(self.pool.map(self.check, [code] * CONCURRENT_CHECKS, self.sessions))
        self.check(code)
        self.get()
        self.workload.remember(self.id, code, superseded)
        for _ in range(REPLAYS):
            self.replay_earlier()

    def resend(self, code: str) -> tuple[str | None, str]:
        """Resend; on a 200 replay the superseded code once. (The superseded code, the current.)"""
        resent = self.send("resend")
        if resent.status != 200 or resent.code is None:
            return None, resent.code or code
        self.check(code)
        return code, resent.code

    def replay_earlier(self) -> None:
        """Replay the codes of an earlier verification, a wrong guess, and read it."""
        earlier = self.workload.earlier(self.rng)
        if earlier is None:
            return
        self.id, code, superseded = earlier
        for replayed in (code, wrong_code(code), superseded):
            if replayed is not None:
                self.check(replayed)
        self.get()

    def send(self, kind: str) -> Outcome:
        """``POST /v1/verifications`` to this address; the outcome carries the code delivered."""
        before = self.workload.inbox.count(self.address)
        outcome = timed_call(
            self.sessions[0],
            "POST",
            f"{self.workload.base}/v1/verifications",
            kind,
            verification_id=self.id,
            json={"to": self.address, "channel": "email"},
            headers=BEARER,
            timeout_seconds=CALL_TIMEOUT_SECONDS,
        )
        code = self.workload.inbox.newest_since(self.address, before)
        return self.workload.record(replace(outcome, code=code))

    def check(self, code: str, session: requests.Session | None = None) -> Outcome:
        """Check ``code``."""
        return self.workload.record(
            timed_call(
                session or self.sessions[0],
                "POST",
                f"{self.workload.base}/v1/verifications/{self.id}/check",
                "check",
                verification_id=self.id,
                code=code,
                json={"code": code},
                headers=BEARER,
                timeout_seconds=CALL_TIMEOUT_SECONDS,
            )
        )

    def get(self) -> Outcome:
        """Read the verification."""
        return self.workload.record(
            timed_call(
                self.sessions[0],
                "GET",
                f"{self.workload.base}/v1/verifications/{self.id}",
                "get",
                verification_id=self.id,
                headers=BEARER,
                timeout_seconds=CALL_TIMEOUT_SECONDS,
            )
        )
