"""
Redis round trips and argon2 operations per API operation, counted in-process.

The app is ``create_app(settings)`` with the bench's settings, served by Flask's test client on the
bench's Redis, with an in-memory sender (the production senders talk HTTP or SMTP, not Redis; the
dev sender would add one pipelined round trip per start). ``MONITOR`` sees every command the app
sends; those run inside Lua scripts are reported apart. The app's one ``CodeHasher`` is wrapped to
count its ``hash`` and ``verify`` calls, which are all the argon2 work there is.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Final, TypeVar

import redis
from flask.testing import FlaskClient

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.codes import CodeHasher
from otp_service.core.models import Channel, OutboundMessage, Receipt
from otp_service.core.transactions import Transaction
from otp_service.services import Services
from otp_service.web.context import EXTENSION_KEY

_T = TypeVar("_T")
#: The app and its markers use a database of their own, so MONITOR can tell their commands apart.
DIAGNOSIS_DB: Final = 1
#: The code leads the message (``{{ code }} is your ... code``): the first run of 4-10 digits.
_CODE: Final = re.compile(r"\b(\d{4,10})\b")


@dataclass
class MemorySender:
    """A real ``Sender`` that keeps the newest message per destination, in memory."""

    provider: str = "bench"
    newest: dict[str, OutboundMessage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: OutboundMessage) -> Receipt:
        """Keep ``message``."""
        with self._lock:
            self.newest[message.to] = message
        return Receipt(self.provider, "bench", "delivered")


@dataclass(frozen=True, slots=True)
class Cost:
    """What one operation cost, over ``runs`` runs: commands sent, in scripts, argon2 calls."""

    operation: str
    expected_status: int
    statuses: tuple[int, ...]
    round_trips: tuple[int, ...]
    commands: tuple[str, ...]
    in_scripts: tuple[int, ...]
    argon2: Mapping[str, int]
    runs: int


def count_argon2(hasher: CodeHasher) -> Counter[str]:
    """Count every ``hash`` and ``verify`` call of this (the app's only) ``CodeHasher``."""
    calls: Counter[str] = Counter()
    hash_, verify = hasher.hash, hasher.verify

    def counted_hash(scope: str, code: str, transaction: Transaction | None = None) -> str:
        calls["hash"] += 1
        return hash_(scope, code, transaction)

    def counted_verify(
        encoded_hash: str, scope: str, code: str, transaction: Transaction | None = None
    ) -> bool:
        calls["verify"] += 1
        return verify(encoded_hash, scope, code, transaction)

    hasher.hash = counted_hash  # type: ignore[method-assign]
    hasher.verify = counted_verify  # type: ignore[method-assign]
    return calls


class _Writes(threading.local):
    counting = False
    count = 0


_WRITES = _Writes()
_SEND = redis.connection.AbstractConnection.send_packed_command


def _counted_send(self: Any, *args: Any, **kwargs: Any) -> Any:
    if _WRITES.counting:
        _WRITES.count += 1
    return _SEND(self, *args, **kwargs)  # type: ignore[no-untyped-call]


redis.connection.AbstractConnection.send_packed_command = _counted_send  # type: ignore[method-assign]


def round_trips(action: Callable[[], _T]) -> tuple[_T, int]:
    """What ``action`` returned, and how many times it wrote to a Redis connection: its round
    trips (a pipeline's commands go in one write)."""
    _WRITES.counting, _WRITES.count = True, 0
    try:
        return action(), _WRITES.count
    finally:
        _WRITES.counting = False


def monitored(redis_url: str, action: Callable[[], _T]) -> tuple[_T, list[str], int]:
    """
    What ``action`` returned (with its round trips: ``round_trips``), the commands the app sent to
    Redis meanwhile (in order), and how many more commands ran inside scripts.
    """
    watcher = redis.Redis.from_url(redis_url, decode_responses=True)
    marker = redis.Redis.from_url(redis_url, decode_responses=True)
    sent: list[str] = []
    in_scripts = 0
    with watcher.monitor() as monitor:  # type: ignore[no-untyped-call]
        marker.echo("bench-begin")
        result = action()
        marker.echo("bench-end")
        started = False
        for entry in monitor.listen():
            if int(entry.get("db", -1)) != DIAGNOSIS_DB:
                continue
            command = str(entry["command"])
            if command == "ECHO bench-begin":
                started = True
            elif command == "ECHO bench-end":
                break
            elif started and entry.get("client_type") == "lua":
                in_scripts += 1
            elif started:
                sent.append(command.split()[0].upper())
    watcher.close()
    marker.close()
    return result, sent, in_scripts


class Diagnosis:
    """Drives the in-process app through every operation of the check and rejection paths."""

    def __init__(self, redis_url: str, environ: Mapping[str, str], keys: Mapping[str, str]) -> None:
        self.redis_url = redis_url.rsplit("/", 1)[0] + f"/{DIAGNOSIS_DB}"
        environ = {**environ, "OTP_REDIS_URL": self.redis_url, "OTP_LOG_LEVEL": "ERROR"}
        self.sender = MemorySender()
        app = create_app(
            Settings.from_env(environ),
            senders={Channel.SMS: self.sender, Channel.EMAIL: self.sender},
        )
        self.services: Services = app.extensions[EXTENSION_KEY]
        self.argon2 = count_argon2(self.services.hasher)
        self.services.store.load_scripts()  # as /readyz does: no NOSCRIPT round trip later
        self.http: FlaskClient = app.test_client()
        self.keys = keys
        self.numbers = count(9_500_000)
        self.locked_id = ""

    def headers(self, client: str = "bench") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.get(client, 'not-a-key')}"}

    def start(self, to: str, client: str = "bench") -> Any:
        return self.http.post(
            "/v1/verifications", json={"to": to, "channel": "sms"}, headers=self.headers(client)
        )

    def check(self, verification_id: str, code: str, client: str = "bench") -> Any:
        path = f"/v1/verifications/{verification_id}/check"
        return self.http.post(path, json={"code": code}, headers=self.headers(client))

    def started(self) -> tuple[str, str, str]:
        """A new pending verification: its destination, id and code."""
        to = f"+1415{next(self.numbers):07d}"
        response = self.start(to)
        if response.status_code != 201:
            raise RuntimeError(f"start answered {response.status_code}: {response.get_json()}")
        match = _CODE.search(self.sender.newest[to].text)
        if match is None:
            raise RuntimeError("no code in the message sent")
        return to, response.get_json()["id"], match.group(1)

    def cost(
        self, operation: str, expected: int, prepare: Callable[[], Callable[[], Any]], runs: int
    ) -> Cost:
        """Run ``prepare()`` (not counted) then the action it returns (counted), ``runs`` times."""
        prepare()()  # warm: first calls of a script or a code path are not what we measure
        statuses: list[int] = []
        trips: list[int] = []
        scripted: list[int] = []
        commands: list[str] = []
        argon2: Counter[str] = Counter()
        for _ in range(runs):
            action = prepare()
            before = Counter(self.argon2)
            (response, trip_count), commands, in_scripts = monitored(
                self.redis_url, functools.partial(round_trips, action)
            )
            argon2.update({name: self.argon2[name] - before[name] for name in self.argon2})
            statuses.append(response.status_code)
            trips.append(trip_count)
            scripted.append(in_scripts)
        return Cost(
            operation=operation,
            expected_status=expected,
            statuses=tuple(statuses),
            round_trips=tuple(trips),
            commands=tuple(commands),
            in_scripts=tuple(scripted),
            argon2={name: calls for name, calls in argon2.items() if calls},
            runs=runs,
        )

    def all_costs(self, runs: int) -> Iterator[Cost]:
        """The cost of every operation of the check path and of the rejection path."""
        yield from self._accepted(runs)
        yield from self._rejected(runs)

    def _accepted(self, runs: int) -> Iterator[Cost]:
        def start() -> Callable[[], Any]:
            to = f"+1415{next(self.numbers):07d}"
            return lambda: self.start(to)

        def right() -> Callable[[], Any]:
            _, verification_id, code = self.started()
            return lambda: self.check(verification_id, code)

        def right_by_destination() -> Callable[[], Any]:
            to, _, code = self.started()
            body = {"to": to, "channel": "sms", "code": code}
            return lambda: self.http.post(
                "/v1/verification-checks", json=body, headers=self.headers()
            )

        def wrong() -> Callable[[], Any]:
            _, verification_id, code = self.started()
            return lambda: self.check(verification_id, _wrong(code))

        def right_after_wrong() -> Callable[[], Any]:
            _, verification_id, code = self.started()
            self.check(verification_id, _wrong(code))
            return lambda: self.check(verification_id, code)

        yield self.cost("start (new destination)", 201, start, runs)
        yield self.cost("check by id, right code", 200, right, runs)
        yield self.cost("check by destination, right code", 200, right_by_destination, runs)
        yield self.cost("check by id, wrong code", 200, wrong, runs)
        yield self.cost("check by id, right code after a wrong one", 200, right_after_wrong, runs)

    def _rejected(self, runs: int) -> Iterator[Cost]:
        def unknown() -> Callable[[], Any]:
            return lambda: self.check("vf_" + "0" * 32, "123456")

        def locked() -> Callable[[], Any]:
            return lambda: self.check(self.locked_id, "123456")

        def rate_limited() -> Callable[[], Any]:
            return lambda: self.start("+14155550100", client="limited")

        def too_soon() -> Callable[[], Any]:
            to, _, _ = self.started()
            return lambda: self.start(to)

        def bad_key() -> Callable[[], Any]:
            return lambda: self.check("vf_" + "0" * 32, "123456", client="nobody")

        def malformed_code() -> Callable[[], Any]:
            return lambda: self.check("vf_" + "0" * 32, "12ab56")

        self.locked_id = self.locked_verification()
        self.start("+14155550100", client="limited")  # uses up the limited client's one start
        yield self.cost("reject: unknown id", 404, unknown, runs)
        yield self.cost("reject: locked verification", 429, locked, runs)
        yield self.cost("reject: rate-limited start", 429, rate_limited, runs)
        yield self.cost("reject: resend too soon", 429, too_soon, runs)
        yield self.cost("reject: bad API key", 401, bad_key, runs)
        yield self.cost("reject: malformed code", 422, malformed_code, runs)

    def locked_verification(self) -> str:
        """A pending verification whose every check is used (wrong codes)."""
        _, verification_id, code = self.started()
        for _ in range(101):  # max_attempts is at most 100
            if self.check(verification_id, _wrong(code)).status_code != 200:
                return verification_id
        raise RuntimeError("the verification did not lock")


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
