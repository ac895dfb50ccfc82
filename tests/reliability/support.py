"""
Helpers of the reliability tests: a Redis a test can crash, freeze and bring back on its port,
the worker processes of a gunicorn, and timed records of HTTP calls.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import redis
import requests

from otp_service.storage.embedded_redis import EmbeddedRedis, find_redis_server
from tests.gunicorn_server import service_environ
from tests.servers import LOOPBACK
from tests.servers.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.support import KEYS, key_sha256

#: ``OTP_REDIS_TIMEOUT_SECONDS`` and ``OTP_DELIVERY_TIMEOUT_SECONDS`` of every faulty service.
REDIS_TIMEOUT_SECONDS = 0.5
DELIVERY_TIMEOUT_SECONDS = 0.5
#: What a loaded 2-core machine may add to a timeout before a request counts as hanging.
SLACK_SECONDS = 0.75
BEARER = {"Authorization": f"Bearer {KEYS['acme']}"}
CLIENTS: list[dict[str, object]] = [
    {
        "name": "acme",
        "key_sha256": key_sha256(KEYS["acme"]),
        "scopes": ["verifications:start", "verifications:check", "totp"],
        # Load tests start many verifications from one client in seconds.
        "policy": {"client_starts": "100000/minute"},
    }
]


@functools.cache
def redis_major_version() -> int:
    """The major version of the ``redis-server`` tests run (``Redis server v=7.0.15 ...``)."""
    banner = subprocess.run(
        [find_redis_server(), "--version"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    match = re.search(r"v=(\d+)\.", banner)
    return int(match.group(1)) if match else 0


class FaultyRedis(EmbeddedRedis):
    """
    A ``redis-server`` on a fixed loopback port that a test can crash, freeze and restart.

    Args:
        is_durable: keep the data in an append-only file fsynced on every write, so a crash
            loses nothing acknowledged and a restart brings the dataset back.
        allows_debug: enable ``DEBUG SLEEP`` (off by default since Redis 7).
    """

    def __init__(self, *, is_durable: bool = False, allows_debug: bool = False) -> None:
        extra: list[str] = []
        self._data_dir: str | None = None
        if is_durable:
            self._data_dir = tempfile.mkdtemp(prefix="otp-redis-aof-")
            # A later --dir wins over EmbeddedRedis's throwaway one: the data survives restarts.
            extra += ["--dir", self._data_dir, "--appendonly", "yes", "--appendfsync", "always"]
        if allows_debug and redis_major_version() >= 7:
            # Redis 7 refuses DEBUG unless enabled; older ones have no such option.
            extra += ["--enable-debug-command", "local"]
        super().__init__(extra_args=extra)

    def __enter__(self) -> FaultyRedis:
        self.start()
        return self

    def kill(self) -> None:
        """Crash the server (SIGKILL): nothing is flushed, every connection drops at once."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)
        self.stop()

    def restart(self) -> None:
        """Start the server again on the same port (empty unless it is durable)."""
        self.start()

    def client(self) -> redis.Redis:
        """A new client of this server, with timeouts, for the test's own commands."""
        return redis.Redis.from_url(
            self.url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5
        )

    def pause(self, milliseconds: int) -> None:
        """``CLIENT PAUSE <ms> ALL``: every client's commands wait, connections are accepted."""
        with self.client() as admin:
            admin.client_pause(milliseconds, all=True)

    def sleep_in_background(self, seconds: float) -> threading.Thread:
        """``DEBUG SLEEP``: the server itself blocks (its caller waits, in a thread)."""

        def sleep() -> None:
            admin = redis.Redis.from_url(self.url, socket_timeout=seconds + 5)
            try:
                admin.execute_command("DEBUG", "SLEEP", str(seconds))  # type: ignore[no-untyped-call]
            except redis.RedisError:
                pass  # killed in its sleep by the test's teardown
            finally:
                admin.close()

        thread = threading.Thread(target=sleep, name="redis-debug-sleep", daemon=True)
        thread.start()
        # DEBUG SLEEP is one command: once PING stops answering, the server is asleep.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self._answers_ping():
            time.sleep(0.01)
        return thread

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.kill()
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)


def child_pids(pid: int) -> list[int]:
    """The direct children of a process, from ``/proc/<pid>/task/*/children``."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return children


def gunicorn_master(base_url: str) -> int:
    """
    The pid of the gunicorn master serving ``base_url`` (a child of this test process, found by
    the ``OTP_BIND`` it was started with).

    Raises:
        LookupError: no child of this process serves that address.
    """
    bind = f"OTP_BIND={base_url.removeprefix('http://')}".encode()
    for pid in child_pids(os.getpid()):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if bind in environ:
            return pid
    raise LookupError(f"no gunicorn master serves {base_url}")


def wait_for_workers(master: int, count: int, timeout_seconds: float = 15.0) -> list[int]:
    """
    The worker pids of ``master`` once it has ``count`` of them that answer.

    Raises:
        AssertionError: the master did not have ``count`` workers in time.
    """
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        workers = child_pids(master)
        if len(workers) == count:
            return workers
        time.sleep(0.05)
    raise AssertionError(f"gunicorn {master} has workers {child_pids(master)}, not {count}")


@dataclass(frozen=True)
class Outcome:
    """One HTTP call as a client saw it: when, how long, and what came back (or None)."""

    kind: str
    verification_id: str | None
    code: str | None
    started: float
    finished: float
    status: int | None
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def elapsed(self) -> float:
        """Seconds from sending to the answer (or to the connection's failure)."""
        return self.finished - self.started

    @property
    def is_approval(self) -> bool:
        """A check the service answered ``valid: true``."""
        return self.status == 200 and self.body.get("valid") is True


def timed_call(
    session: requests.Session,
    method: str,
    url: str,
    kind: str,
    *,
    verification_id: str | None = None,
    code: str | None = None,
    timeout_seconds: float = 10.0,
    **options: Any,
) -> Outcome:
    """Make one call and record its outcome; a dropped connection is ``status=None``."""
    started = time.monotonic()
    try:
        response = session.request(method, url, timeout=timeout_seconds, **options)
    except requests.RequestException:
        return Outcome(kind, verification_id, code, started, time.monotonic(), None)
    finished = time.monotonic()
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {"raw": response.text[:200]}
    return Outcome(
        kind,
        verification_id,
        code,
        started,
        finished,
        response.status_code,
        body if isinstance(body, dict) else {"json": body},
        dict(response.headers),
    )


_PHONE_NUMBERS = itertools.count(1000)


def new_phone() -> str:
    """A valid US number no earlier call of this test process returned (up to 9000 of them)."""
    return f"+1415555{next(_PHONE_NUMBERS) % 10_000:04d}"


def wrong_code(code: str) -> str:
    """A code of the same length that is not ``code``."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def faulty_environ(redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """gunicorn's environment: the test client, short Redis and delivery timeouts, ``extra``."""
    return {
        **service_environ(redis_url, prefix, CLIENTS),
        "OTP_REDIS_TIMEOUT_SECONDS": str(REDIS_TIMEOUT_SECONDS),
        "OTP_DELIVERY_TIMEOUT_SECONDS": str(DELIVERY_TIMEOUT_SECONDS),
        # Load tests send more SMS to one country than the country cap allows in an hour, and
        # leave most codes unchecked in one range of numbers: the pumping guard would block it
        # (tests/fraud test that it does).
        "OTP_SMS_COUNTRY_LIMIT": "100000/hour",
        "OTP_FRAUD_GUARD": "off",
        **extra,
    }


def twilio_environ(api_base: str) -> dict[str, str]:
    """SMS through Twilio's Messages API at ``api_base`` (a test server)."""
    return {
        "OTP_SMS_PROVIDER": "twilio",
        "OTP_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "OTP_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "OTP_TWILIO_FROM": FROM_NUMBER,
        "OTP_TWILIO_API_BASE": api_base,
    }


def smtp_environ(port: int) -> dict[str, str]:
    """Email through a plain SMTP server on the loopback at ``port``."""
    return {
        "OTP_EMAIL_PROVIDER": "smtp",
        "OTP_SMTP_HOST": LOOPBACK,
        "OTP_SMTP_PORT": str(port),
        "OTP_SMTP_TLS": "none",
        "OTP_EMAIL_FROM": "Acme <no-reply@acme.test>",
    }
