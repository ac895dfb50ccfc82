"""
The load driver: a closed loop of N threads against one server, in a process of its own.

``bench/run.py`` runs it as ``python -m bench.load '<spec as JSON>'`` and reads one JSON result
from its stdout. Modes:

- ``flows``: start a verification for a destination never used before, read the code from the dev
  outbox (the dev sender's capped Redis list), check it; repeat until the time is up.
- ``starts``: only starts, at most ``max_starts`` of them (the memory phase).
- ``requests``: send ready-made requests (the rejection path, the bare endpoint) round-robin.
"""

from __future__ import annotations

import itertools
import json
import re
import resource
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final, cast

import redis

from bench.keepalive import Connection, Response, header_lines

_ID: Final = re.compile(rb'"id":\s*"(vf_[0-9a-f]{32})"')
#: Each thread numbers its destinations from its own block, so no two flows share one.
NUMBERS_PER_THREAD: Final = 5_000


@dataclass(frozen=True, slots=True)
class Template:
    """One ready-made request of the ``requests`` mode."""

    method: str
    path: str
    body: bytes
    headers: bytes


@dataclass(slots=True)
class Recorder:
    """What one thread saw: latencies per operation (ms), statuses, completed flows."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    flows: int = 0
    outbox_reads: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def timed(
        self,
        operation: str,
        connection: Connection,
        request: tuple[str, str, bytes, bytes],
    ) -> Response | None:
        """Send ``request`` (method, path, headers, body), recording its latency and status."""
        started = time.perf_counter()
        try:
            response = connection.request(*request)
        except OSError as error:
            self.errors[f"{operation}: {type(error).__name__}"] += 1
            return None
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.latencies.setdefault(operation, []).append(elapsed_ms)
        self.statuses[f"{operation} {response.status}"] += 1
        return response


def phone_number(index: int) -> str:
    """The ``index``-th bench destination: +1 415 numbers, all valid mobile numbers for the US."""
    return f"+1415{2_000_000 + index % 7_000_000:07d}"


class Driver:
    """Runs one spec (made by ``Bench.spec`` in ``bench/benchmark.py``) and summarises it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.deadline = 0.0
        auth = {"Authorization": f"Bearer {spec.get('api_key', '')}"}
        self.json_headers = header_lines({**auth, "Content-Type": "application/json"})
        self.started_count = itertools.count()
        self.redis = redis.Redis.from_url(spec["redis_url"], decode_responses=True)
        self.code_pattern = re.compile(rf"\b(\d{{{spec.get('code_length', 6)}}})\b")
        self.templates = [
            Template(t["method"], t["path"], t["body"].encode(), header_lines(t["headers"]))
            for t in spec.get("requests", [])
        ]

    def connection(self) -> Connection:
        host, _, port = self.spec["address"].partition(":")
        return Connection(host, int(port), self.spec.get("request_timeout_seconds", 10.0))

    def code_for(self, verification_id: str, recorder: Recorder) -> str | None:
        """The code sent for ``verification_id``, from the newest messages of the dev outbox."""
        for last in (15, 99):
            recorder.outbox_reads += 1
            newest = cast(list[str], self.redis.lrange(self.spec["outbox_key"], 0, last))
            for raw in newest:
                if verification_id in raw:
                    match = self.code_pattern.search(json.loads(raw)["text"])
                    return match.group(1) if match else None
        return None

    def run_flows(self, thread_index: int, recorder: Recorder) -> None:
        connection = self.connection()
        base = self.spec["number_base"] + thread_index * NUMBERS_PER_THREAD
        for n in itertools.count():
            if time.monotonic() >= self.deadline:
                break
            body = json.dumps({"to": phone_number(base + n), "channel": "sms"}).encode()
            started = recorder.timed(
                "start", connection, ("POST", "/v1/verifications", self.json_headers, body)
            )
            match = _ID.search(started.body) if started and started.status == 201 else None
            if match is None:
                continue
            verification_id = match.group(1).decode()
            code = self.code_for(verification_id, recorder)
            if code is None:
                recorder.errors["code not found in the dev outbox"] += 1
                continue
            check = json.dumps({"code": code}).encode()
            path = f"/v1/verifications/{verification_id}/check"
            checked = recorder.timed("check", connection, ("POST", path, self.json_headers, check))
            if checked and checked.status == 200 and b'"approved"' in checked.body:
                recorder.flows += 1
        connection.close()

    def run_starts(self, thread_index: int, recorder: Recorder) -> None:
        connection = self.connection()
        while time.monotonic() < self.deadline:
            index = next(self.started_count)
            if index >= self.spec["max_starts"]:
                break
            to = phone_number(self.spec["number_base"] + index)
            body = json.dumps({"to": to, "channel": "sms"}).encode()
            recorder.timed(
                "start", connection, ("POST", "/v1/verifications", self.json_headers, body)
            )
        connection.close()

    def run_requests(self, thread_index: int, recorder: Recorder) -> None:
        connection = self.connection()
        for n in itertools.count(thread_index):
            if time.monotonic() >= self.deadline:
                break
            t = self.templates[n % len(self.templates)]
            recorder.timed("request", connection, (t.method, t.path, t.headers, t.body))
        connection.close()

    def run(self) -> dict[str, Any]:
        """Run every thread to the deadline; the merged result."""
        target = {"flows": self.run_flows, "starts": self.run_starts}.get(
            self.spec["mode"], self.run_requests
        )
        concurrency = int(self.spec["concurrency"])
        recorders = [Recorder() for _ in range(concurrency)]
        threads = [
            threading.Thread(target=target, args=(i, recorders[i]), daemon=True)
            for i in range(concurrency)
        ]
        cpu_before = _cpu_seconds()
        began = time.monotonic()
        self.deadline = began + float(self.spec["seconds"])
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(self.deadline - time.monotonic(), 0) + 30)
        elapsed = time.monotonic() - began
        return _summary(recorders, elapsed, _cpu_seconds() - cpu_before)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentiles(samples: list[float]) -> dict[str, float]:
    """Count, mean and nearest-rank p50/p95/p99/max of ``samples``."""
    if not samples:
        return {"count": 0}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]

    return {
        "count": len(ordered),
        "mean": sum(ordered) / len(ordered),
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": ordered[-1],
    }


def _summary(recorders: list[Recorder], elapsed: float, cpu_seconds: float) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {}
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for recorder in recorders:
        for operation, samples in recorder.latencies.items():
            latencies.setdefault(operation, []).extend(samples)
        statuses.update(recorder.statuses)
        errors.update(recorder.errors)
    return {
        "elapsed_seconds": elapsed,
        "flows": sum(recorder.flows for recorder in recorders),
        "latency_ms": {op: percentiles(samples) for op, samples in latencies.items()},
        "samples_ms": {op: [round(x, 3) for x in samples] for op, samples in latencies.items()},
        "statuses": dict(statuses),
        "errors": dict(errors),
        "driver_cpu_seconds": cpu_seconds,
        "outbox_reads": sum(recorder.outbox_reads for recorder in recorders),
    }


def main(argv: list[str]) -> int:
    """Run the spec given as the only argument; print the result as JSON."""
    result = Driver(json.loads(argv[1])).run()
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
