"""
otp-service beside privacyIDEA, in one run: e-mail code flows per second of each, in alternating
slices, under the same gunicorn settings (workers = cores, 8 threads, gthread), both sending their
codes by SMTP to one local sink, read back by the driver.

- Both stores as in production: Redis with an append-only file fsynced every second,
  PostgreSQL with ``synchronous_commit=off`` (its commits flushed by the WAL writer).
- Per slice: flows/s, and CPU of the server (master and workers) and its store per flow.
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
import json
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller

from bench.environment import KEYS, service_environ
from bench.keepalive import Connection, header_lines
from bench.mail_sink import Sink, code_of
from bench.privacyidea_setup import (
    PIN,
    configure,
    ensure_venv,
    pi_gunicorn,
    provision,
    throwaway_postgres,
)
from bench.servers import gunicorn, machine_cpu_seconds, tree_cpu_seconds
from otp_service.storage.embedded_redis import EmbeddedRedis, free_port

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


def run_slice(
    address: str, flows: list[Flow], seconds: float
) -> tuple[int, int, list[float], float]:
    """
    Every flow in a closed loop of its own for ``seconds``: flows done, failed (a timeout of 30 s
    included), their latencies, and the seconds until the last one in flight ended.
    """
    host, port = address.rsplit(":", 1)
    done, failed, took = [0], [0], []
    began = time.monotonic()
    stop = began + seconds
    lock = threading.Lock()

    def loop(flow: Flow) -> None:
        connection = Connection(host, int(port), 30.0)
        n = 0
        while time.monotonic() < stop:
            begin = time.perf_counter()
            try:
                ok = flow(connection, n)
            except (OSError, ValueError) as error:  # a timeout, a closed connection, no code
                FAILURES.append(repr(error))
                connection.close()
                ok = False
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
    return done[0], failed[0], took, time.monotonic() - began


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
    # Redis as docs/operations.md has it in production: an append-only file, fsync every second.
    redis_server = EmbeddedRedis(extra_args=["--appendonly", "yes", "--appendfsync", "everysec"])
    redis_server.start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="pi-bench-") as folder,
            throwaway_postgres(Path(folder)) as database,
        ):
            config = configure(venv, Path(folder), database.url)
            stores = Stores(redis_server, database.pid)
            run_both(options, venv, Path(folder), config, sink, smtp.port, stores)
    finally:
        redis_server.stop()
        smtp.stop()
        signal.alarm(0)


@dataclass(frozen=True, slots=True)
class Stores:
    """The storage each service runs on: the service's Redis, privacyIDEA's PostgreSQL."""

    redis: EmbeddedRedis
    postgres_pid: int

    def redis_cpu(self) -> float:
        """Redis's CPU seconds so far (``INFO cpu``)."""
        with redis.Redis.from_url(self.redis.url) as client:
            info = cast(dict[str, Any], client.info("cpu"))
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def postgres_cpu(self) -> float:
        """The PostgreSQL server's CPU seconds so far (its postmaster and backends)."""
        return sum(tree_cpu_seconds(self.postgres_pid))


def run_both(
    options: argparse.Namespace,
    venv: Path,
    folder: Path,
    config: Path,
    sink: Sink,
    smtp_port: int,
    stores: Stores,
) -> None:
    """Both services under gunicorn, provisioned, then measured."""
    environ = {
        **service_environ(stores.redis.url, "otp", log_level="INFO"),
        "OTP_EMAIL_PROVIDER": "smtp",
        "OTP_SMTP_HOST": "127.0.0.1",
        "OTP_SMTP_PORT": str(smtp_port),
        "OTP_SMTP_TLS": "none",
        "OTP_EMAIL_FROM": "otp@example.com",
    }
    with (
        gunicorn("wsgi:app", environ, folder / "otp.log") as otp,
        pi_gunicorn(venv, folder, config, folder / "pi.log") as (pi_address, pi_pid),
    ):
        users = provision(f"http://{pi_address}", folder, options.concurrency, smtp_port)
        counters = [[0] for _ in range(options.concurrency)]
        otp_flows = [otp_flow(sink, n, counters[n]) for n in range(options.concurrency)]
        pi_flows = [pi_flow(sink, user) for user in users]
        run_slice(otp.address, otp_flows, 3)  # warm both
        run_slice(pi_address, pi_flows, 3)
        services = [
            Measured("otp-service", otp.address, otp_flows, otp.pid, stores.redis_cpu),
            Measured("privacyIDEA", pi_address, pi_flows, pi_pid, stores.postgres_cpu),
        ]
        report(options, services)


@dataclass(frozen=True, slots=True)
class Measured:
    """A service under load: its flows, its gunicorn master, and its store's CPU so far."""

    name: str
    address: str
    flows: list[Flow]
    pid: int
    store_cpu: Callable[[], float]

    def cpu(self) -> float:
        """CPU seconds of the server (master and workers) and of its store, so far."""
        return sum(tree_cpu_seconds(self.pid)) + self.store_cpu()


def report(options: argparse.Namespace, services: list[Measured]) -> None:
    """Alternate the slices and print each, then the ratios of medians: rate and CPU."""
    seconds = options.seconds / (2 * options.slices)
    rates: dict[str, list[float]] = {service.name: [] for service in services}
    cpu: dict[str, list[float]] = {service.name: [] for service in services}
    latencies: dict[str, list[float]] = {service.name: [] for service in services}
    for index in range(options.slices):
        for service in services:
            machine_before, cpu_before = machine_cpu_seconds()[0], service.cpu()
            done, failed, took, elapsed = run_slice(service.address, service.flows, seconds)
            per_flow = (service.cpu() - cpu_before) / max(done, 1)
            busy = machine_cpu_seconds()[0] - machine_before
            rates[service.name].append(done / elapsed)
            cpu[service.name].append(per_flow)
            latencies[service.name] += took
            print(
                f"slice {index} {service.name:12} {done / elapsed:7.1f} flows/s ({failed} failed),"
                f" {per_flow * 1000:.1f} ms of server + store CPU per flow,"
                f" machine busy {busy / elapsed:.2f} cores, {elapsed:.1f} s"
            )
            if FAILURES:
                print("  first failure:", FAILURES[0])
                FAILURES.clear()
    for name, values in latencies.items():
        cuts = statistics.quantiles(values, n=100)
        print(f"{name:12} flow latency p50 {cuts[49] * 1000:.0f} ms, p99 {cuts[98] * 1000:.0f} ms")
    ours, theirs = (service.name for service in services)
    ratios = [o / p for o, p in zip(rates[ours], rates[theirs], strict=True) if p]
    cpu_ratios = [p / o for o, p in zip(cpu[ours], cpu[theirs], strict=True) if o]
    print(f"{ours} / {theirs} flows/s: median of slices {statistics.median(ratios):.2f} "
          f"(slices {', '.join(f'{r:.2f}' for r in ratios)})")  # fmt: skip
    print(f"{theirs} / {ours} CPU per flow: median of slices {statistics.median(cpu_ratios):.2f}")


if __name__ == "__main__":
    main()
