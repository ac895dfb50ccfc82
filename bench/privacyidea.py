"""
otp-service beside privacyIDEA, in one run: e-mail code flows per second of each, in alternating
slices, under the same gunicorn settings (workers = cores, 8 threads, gthread), both sending their
codes by SMTP to one local sink, read back by the driver.

- otp-service: ``POST /v1/verifications`` (channel email, a new address each flow), the code from
  the sink, ``POST /v1/verifications/{id}/check``; Redis as ``EmbeddedRedis``, its default argon2
  profile (``otp``).
- privacyIDEA (``bench/privacyidea_setup.py``, from PyPI, on a throwaway PostgreSQL):
  ``POST /validate/check`` with the user's PIN (which sends an e-mail challenge), the code from
  the sink, ``POST /validate/check`` with the ``transaction_id``; one user per driver thread.

    .venv/bin/python bench/privacyidea.py --seconds 60
"""

from __future__ import annotations

import argparse
import email
import email.message
import email.policy
import json
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller

from bench.environment import KEYS, service_environ
from bench.keepalive import Connection, header_lines
from bench.privacyidea_setup import (
    PIN,
    configure,
    ensure_venv,
    pi_gunicorn,
    provision,
    throwaway_postgres,
)
from bench.servers import gunicorn
from otp_service.storage.embedded_redis import EmbeddedRedis, free_port


class Sink:
    """An aiosmtpd handler keeping the newest message body per recipient."""

    def __init__(self) -> None:
        self.newest: dict[str, str] = {}
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message (aiosmtpd's hook)."""
        body = envelope.content.decode("utf-8", "replace")
        with self.arrived:
            for recipient in envelope.rcpt_tos:
                self.newest[recipient.lower()] = body
            self.arrived.notify_all()
        return "250 OK"

    def take(self, recipient: str, timeout: float = 10.0) -> str:
        """The next message to ``recipient`` (waits for it), removed."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while recipient not in self.newest:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no message to {recipient}")
                self.arrived.wait(left)
            return self.newest.pop(recipient)


def code_of(message: str) -> str:
    """The code in a message's text: its first run of 6 digits (both services send 6)."""
    parsed = email.message_from_string(message, policy=email.policy.default)
    part = parsed.get_body(preferencelist=("plain", "html"))
    text = part.get_content() if isinstance(part, email.message.EmailMessage) else message
    found = re.search(r"\b(\d{6})\b", text)
    if found is None:
        raise ValueError(f"no code in {text[:200]!r}")
    return found.group(1)


Flow = Callable[[Connection, int], bool]
#: What the first failed flows answered (printed, so a broken setup says why).
FAILURES: list[str] = []


def otp_flow(sink: Sink, thread: int, counter: list[int]) -> Flow:
    """A start and a right check on otp-service for a new address."""
    headers = header_lines(
        {"Authorization": f"Bearer {KEYS['bench']}", "Content-Type": "application/json"}
    )

    def flow(connection: Connection, _: int) -> bool:
        counter[0] += 1
        to = f"o{thread}x{counter[0]}@example.com"
        body = json.dumps({"to": to, "channel": "email"}).encode()
        started = connection.request("POST", "/v1/verifications", headers, body)
        if started.status != 201:
            return False
        verification_id = json.loads(started.body)["id"]
        code = json.dumps({"code": code_of(sink.take(to))}).encode()
        path = f"/v1/verifications/{verification_id}/check"
        checked = connection.request("POST", path, headers, code)
        return checked.status == 200 and bool(json.loads(checked.body).get("valid"))

    return flow


def pi_flow(sink: Sink, user: str) -> Flow:
    """A challenge triggered by the PIN, then answered with the e-mailed code."""
    headers = header_lines({"Content-Type": "application/json"})

    def flow(connection: Connection, _: int) -> bool:
        body = json.dumps({"user": user, "realm": "bench", "pass": PIN}).encode()
        first = json.loads(connection.request("POST", "/validate/check", headers, body).body)
        transaction = first.get("detail", {}).get("transaction_id")
        if not transaction:
            FAILURES.append(str(first)[:500])
            return False
        code = code_of(sink.take(f"{user}@example.com"))
        answer = {"user": user, "realm": "bench", "transaction_id": transaction, "pass": code}
        reply = connection.request("POST", "/validate/check", headers, json.dumps(answer).encode())
        ok = bool(json.loads(reply.body).get("result", {}).get("value"))
        if not ok:
            FAILURES.append(str(reply.body)[:500])
        return ok

    return flow


def run_slice(address: str, flows: list[Flow], seconds: float) -> tuple[int, int, list[float]]:
    """Every flow in a closed loop of its own for ``seconds``: (flows done, failed, latencies)."""
    host, port = address.rsplit(":", 1)
    done, failed, took = [0], [0], []
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def loop(flow: Flow) -> None:
        connection = Connection(host, int(port), 30.0)
        n = 0
        while time.monotonic() < stop:
            begin = time.perf_counter()
            ok = flow(connection, n)
            with lock:
                took.append(time.perf_counter() - begin)
                done[0] += ok
                failed[0] += not ok
            n += 1
        connection.close()

    threads = [threading.Thread(target=loop, args=(flow,)) for flow in flows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0], failed[0], took


def main() -> None:
    """Install and set up privacyIDEA, start both, alternate slices, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="measured time in all")
    parser.add_argument("--slices", type=int, default=3, help="slices per service")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pi-cache", type=Path, default=Path.home() / ".cache/otp-service-bench")
    parser.add_argument("--budget", type=float, default=1200.0, help="seconds for everything")
    options = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("time budget exhausted"))
    signal.alarm(int(options.budget))
    venv = ensure_venv(options.pi_cache)
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    redis_server = EmbeddedRedis()
    redis_server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="pi-bench-") as folder:
            measure(options, venv, Path(folder), sink, smtp.port, redis_server.url)
    finally:
        redis_server.stop()
        smtp.stop()
        signal.alarm(0)


def measure(
    options: argparse.Namespace, venv: Path, folder: Path, sink: Sink, smtp_port: int, url: str
) -> None:
    """Both servers up, the slices run, the figures printed."""
    with throwaway_postgres(folder) as database_url:
        config = configure(venv, folder, database_url)
        run_both(options, venv, folder, config, sink, smtp_port, url)


def run_both(
    options: argparse.Namespace,
    venv: Path,
    folder: Path,
    config: Path,
    sink: Sink,
    smtp_port: int,
    url: str,
) -> None:
    """Both services under gunicorn, provisioned, then measured."""
    environ = {
        **service_environ(url, "otp", log_level="INFO"),
        "OTP_EMAIL_PROVIDER": "smtp",
        "OTP_SMTP_HOST": "127.0.0.1",
        "OTP_SMTP_PORT": str(smtp_port),
        "OTP_SMTP_TLS": "none",
        "OTP_EMAIL_FROM": "otp@example.com",
    }
    with (
        gunicorn("wsgi:app", environ, folder / "otp.log") as otp,
        pi_gunicorn(venv, folder, config, folder / "pi.log") as pi_address,
    ):
        users = provision(f"http://{pi_address}", folder, options.concurrency, smtp_port)
        counters = [[0] for _ in range(options.concurrency)]
        otp_flows = [otp_flow(sink, n, counters[n]) for n in range(options.concurrency)]
        pi_flows = [pi_flow(sink, user) for user in users]
        run_slice(otp.address, otp_flows, 3)  # warm both
        run_slice(pi_address, pi_flows, 3)
        report(options, otp, pi_address, otp_flows, pi_flows)


def report(
    options: argparse.Namespace, otp: Any, pi_address: str, otp_flows: list[Flow],
    pi_flows: list[Flow],
) -> None:  # fmt: skip
    """Alternate the slices and print each, then the ratio of medians."""
    seconds = options.seconds / (2 * options.slices)
    rates: dict[str, list[float]] = {"otp-service": [], "privacyIDEA": []}
    latencies: dict[str, list[float]] = {"otp-service": [], "privacyIDEA": []}
    for index in range(options.slices):
        for name, address, flows in (
            ("otp-service", otp.address, otp_flows),
            ("privacyIDEA", pi_address, pi_flows),
        ):
            done, failed, took = run_slice(address, flows, seconds)
            rates[name].append(done / seconds)
            latencies[name] += took
            print(f"slice {index} {name:12} {done / seconds:7.1f} flows/s ({failed} failed)")
            if FAILURES:
                print("  first failure:", FAILURES[0])
                FAILURES.clear()
    for name, values in latencies.items():
        cuts = statistics.quantiles(values, n=100)
        print(f"{name:12} flow latency p50 {cuts[49] * 1000:.0f} ms, p99 {cuts[98] * 1000:.0f} ms")
    ratios = [o / p for o, p in zip(rates["otp-service"], rates["privacyIDEA"], strict=True) if p]
    print(f"otp-service / privacyIDEA flows/s: median of slices {statistics.median(ratios):.2f} "
          f"(slices {', '.join(f'{r:.2f}' for r in ratios)})")  # fmt: skip


if __name__ == "__main__":
    main()
