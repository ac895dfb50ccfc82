"""
What a Redis crash loses: pending verifications and TOTP factors the service acknowledged, then a
SIGKILL of Redis under load and a restart from the same directory, without persistence, with AOF
``appendfsync everysec`` and with AOF ``appendfsync always``.

``.venv/bin/python bench/durability.py --seconds 8`` (about a minute). Per configuration: a
``redis-server`` (127.0.0.1, its own directory), the service under the production gunicorn
configuration, client threads that start verifications and enrol and activate TOTP factors
until Redis is killed under them; then Redis is restarted and every acknowledged record (a 201
start, a 200 activation) is looked up by its key. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyotp
import redis
import requests

from bench.environment import KEYS, PREFIX, service_environ
from bench.servers import gunicorn
from otp_service.storage.embedded_redis import EmbeddedRedis

CONFIGURATIONS = {
    "no persistence": [],
    "AOF everysec": ["--appendonly", "yes", "--appendfsync", "everysec"],
    "AOF always": ["--appendonly", "yes", "--appendfsync", "always"],
}
TOTP_KEY = base64.b64encode(bytes(range(32))).decode()
AUTH = {"Authorization": f"Bearer {KEYS['bench']}"}


def environ(redis_url: str) -> dict[str, str]:
    """The bench service's environment; its client may use TOTP; one TOTP key for all workers."""
    settings = service_environ(redis_url, "otp", log_level="WARNING")
    clients = json.loads(settings["OTP_API_KEYS"])
    clients[0]["scopes"].append("totp")
    settings["OTP_API_KEYS"] = json.dumps(clients)
    settings["OTP_TOTP_ENCRYPTION_KEY"] = TOTP_KEY
    return settings


class Acknowledged:
    """Records the service acknowledged: (kind, id, when the answer came)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, float]] = []
        self._lock = threading.Lock()
        self.stop = threading.Event()

    def add(self, kind: str, record_id: str) -> None:
        """Keep one acknowledged record."""
        with self._lock:
            self.records.append((kind, record_id, time.monotonic()))

    def client(self, base: str, thread: int) -> None:
        """Start a verification, enrol and activate a factor; again until stopped."""
        with requests.Session() as session:
            for n in range(1_000_000):
                if self.stop.is_set():
                    return
                try:
                    self.one_round(session, base, f"{thread}-{n}")
                except (requests.RequestException, ValueError, KeyError):
                    time.sleep(0.05)  # Redis is down: do not spin

    def one_round(self, session: requests.Session, base: str, name: str) -> None:
        """One start and one activated factor, each kept when acknowledged."""
        to = f"+1415{2_000_000 + abs(hash(name)) % 7_000_000:07d}"
        started = session.post(
            f"{base}/v1/verifications", json={"to": to, "channel": "sms"}, headers=AUTH, timeout=5
        )
        if started.status_code == 201:
            self.add("verification", started.json()["id"])
        enrolled = session.post(
            f"{base}/v1/totp/factors", json={"subject": f"user-{name}"}, headers=AUTH, timeout=5
        )
        if enrolled.status_code != 201:
            return
        factor = enrolled.json()
        code = pyotp.TOTP(factor["secret"]).now()
        path = f"{base}/v1/totp/factors/{factor['id']}/activate"
        if session.post(path, json={"code": code}, headers=AUTH, timeout=5).status_code == 200:
            self.add("factor", factor["id"])


def crash(server: EmbeddedRedis) -> None:
    """SIGKILL the server (its pid from ``INFO server``), then reap it."""
    with redis.Redis(port=server.port) as client:
        pid = int(client.info("server")["process_id"])
    os.kill(pid, signal.SIGKILL)
    server.stop()


def survivors(
    server: EmbeddedRedis, acknowledged: Acknowledged, killed_at: float
) -> dict[str, Any]:
    """Per kind: acknowledged, found after the restart, and of those in the last second."""
    prefixes = {"verification": f"{PREFIX}:vf:", "factor": f"{PREFIX}:totp:factor:"}
    figures: dict[str, Any] = {}
    with redis.Redis(port=server.port) as client:
        for kind, prefix in prefixes.items():
            records = [(i, at) for k, i, at in acknowledged.records if k == kind]
            found = [(i, at) for i, at in records if client.exists(prefix + "{" + i + "}")]
            late = [i for i, at in records if at > killed_at - 1]
            late_found = [i for i, at in found if at > killed_at - 1]
            figures[kind] = {
                "acknowledged": len(records),
                "kept": len(found),
                "acknowledged_last_second": len(late),
                "kept_last_second": len(late_found),
            }
    return figures


def measure(name: str, args: list[str], seconds: float, logs: Path) -> dict[str, Any]:
    """One configuration: load, SIGKILL of Redis, restart from the same directory, count."""
    with tempfile.TemporaryDirectory(prefix="otp-durability-") as data:
        server = EmbeddedRedis(extra_args=["--dir", data, *args]).start()
        acknowledged = Acknowledged()
        try:
            with gunicorn("wsgi:app", environ(server.url), logs / f"{len(args)}.log") as service:
                threads = [
                    threading.Thread(target=acknowledged.client, args=(service.base_url, n))
                    for n in range(4)
                ]
                for thread in threads:
                    thread.start()
                time.sleep(seconds)
                killed_at = time.monotonic()
                crash(server)
                acknowledged.stop.set()
                for thread in threads:
                    thread.join(timeout=30)
            server.start()
            return {"configuration": name, **survivors(server, acknowledged, killed_at)}
        finally:
            acknowledged.stop.set()
            server.stop()


def main(argv: list[str]) -> int:
    """Measure every configuration; print one JSON row each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="load before the crash")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="otp-durability-logs-") as logs:
        for name, redis_args in CONFIGURATIONS.items():
            print(json.dumps(measure(name, redis_args, args.seconds, Path(logs))))  # the figures
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
