"""
What acknowledged writes cost: start and check latency with ``OTP_REDIS_WAIT_REPLICAS`` = 0, 1
and 2, on a local master with two replicas.

``.venv/bin/python bench/replication.py --seconds 10 --rounds 3`` (about 2 minutes). It starts a
master and two replicas (``EmbeddedRedis``, 127.0.0.1), then, round after round, the service under
the production gunicorn configuration once per setting (interleaved, so a burst of load from
elsewhere hits every setting alike), and runs the closed-loop flows of ``bench.load`` against it.
It prints the latencies and how many ``WAIT`` commands the master ran per flow (0 means the
setting had no effect). First, the same without the service: a one-key script and ``WAIT`` in
one pipeline, as the store sends a state change (``--raw-only`` stops there). Figures only:
nothing is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench.benchmark import run_driver
from bench.environment import KEYS, outbox_key, service_environ
from bench.load import NUMBERS_PER_THREAD, percentiles
from bench.servers import Server, gunicorn
from otp_service.storage.embedded_redis import EmbeddedRedis

SETTINGS = (0, 1, 2)


def replicated() -> list[EmbeddedRedis]:
    """A master and two replicas of it, started and in sync."""
    master = EmbeddedRedis(extra_args=["--repl-diskless-sync-delay", "0"]).start()
    nodes = [master]
    try:
        for _ in range(2):
            of = ["--replicaof", "127.0.0.1", str(master.port)]
            nodes.append(EmbeddedRedis(extra_args=of).start())
        with redis.Redis(port=master.port) as client:
            if client.execute_command("WAIT", 2, 10_000) != 2:
                raise RuntimeError("the replicas did not sync")
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


def waits(master: EmbeddedRedis) -> int:
    """How many WAIT commands the master has run."""
    with redis.Redis(port=master.port, decode_responses=True) as client:
        stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get("cmdstat_wait", {}).get("calls", 0))


def one_run(
    master: EmbeddedRedis, replicas: int, args: argparse.Namespace, index: int, logs: Path
) -> dict[str, Any]:
    """The service with ``replicas`` acknowledgements under the flows load for ``args.seconds``."""
    environ = service_environ(master.url, args.profile, log_level="WARNING")
    environ["OTP_REDIS_WAIT_REPLICAS"] = str(replicas)
    with gunicorn("wsgi:app", environ, logs / f"wait{replicas}-{index}.log") as server:
        before = waits(master)
        result = run_driver(spec(server, master, args, index))
        result["waits"] = waits(master) - before
    return result


def spec(
    server: Server, master: EmbeddedRedis, args: argparse.Namespace, index: int
) -> dict[str, Any]:
    """The ``bench.load`` spec of one run: flows, each with destinations of its own."""
    return {
        "address": server.address,
        "mode": "flows",
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "api_key": KEYS["bench"],
        "redis_url": master.url,
        "outbox_key": outbox_key(),
        "number_base": 1_000_000 + index * args.concurrency * NUMBERS_PER_THREAD,
    }


def report(runs: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per setting, the rounds merged."""
    rows = []
    for replicas, results in runs.items():
        flows = sum(r["flows"] for r in results)
        seconds = sum(r["elapsed_seconds"] for r in results)
        row: dict[str, Any] = {"wait_replicas": replicas, "flows_per_s": round(flows / seconds, 1)}
        for operation in ("start", "check"):
            samples = [x for r in results for x in r["samples_ms"].get(operation, [])]
            figures = percentiles(samples)
            row[operation] = {k: round(v, 1) for k, v in figures.items() if k != "count"}
        row["waits_per_flow"] = round(sum(r["waits"] for r in results) / max(flows, 1), 2)
        row["statuses"] = merged_statuses(results)
        rows.append(row)
    return rows


def merged_statuses(results: list[dict[str, Any]]) -> dict[str, int]:
    """Every status count of every round, added up."""
    total: dict[str, int] = {}
    for result in results:
        for status, count in result["statuses"].items():
            total[status] = total.get(status, 0) + count
    return total


def raw_wait(master: EmbeddedRedis, replicas: int, seconds: float, threads: int) -> dict[str, Any]:
    """
    Latency of one state change as the store makes it, without the service: a one-key ``HSET``
    script followed by ``WAIT replicas 2000`` in the same pipeline, from ``threads`` threads.
    """
    pool = redis.ConnectionPool(port=master.port)
    samples: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(thread: int) -> None:
        client = redis.Redis(connection_pool=pool)
        script = client.register_script("return redis.call('HSET', KEYS[1], 'status', ARGV[1])")
        mine = []
        for n in itertools.count():
            if time.monotonic() >= deadline:
                break
            started = time.perf_counter()
            pipe = client.pipeline(transaction=False)
            script(keys=[f"bench:wait:{thread}:{n % 1000}"], args=["approved"], client=pipe)
            pipe.execute_command("WAIT", replicas, 2000)  # type: ignore[no-untyped-call]
            pipe.execute()
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            samples.extend(mine)

    workers = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 30)
    pool.disconnect()
    figures = percentiles(samples)
    return {"raw_wait_replicas": replicas, **{k: round(v, 3) for k, v in figures.items()}}


def main(argv: list[str]) -> int:
    """Run every setting ``--rounds`` times, interleaved; print one JSON row per setting."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per setting (default 3)")
    parser.add_argument("--concurrency", type=int, default=8, help="driver threads (default 8)")
    parser.add_argument("--profile", default="otp", help="argon2 profile (default otp)")
    parser.add_argument("--raw-only", action="store_true", help="only the script+WAIT figures")
    args = parser.parse_args(argv)
    nodes = replicated()
    runs: dict[int, list[dict[str, Any]]] = {replicas: [] for replicas in SETTINGS}
    try:
        for replicas in SETTINGS:
            print(json.dumps(raw_wait(nodes[0], replicas, args.seconds / 2, args.concurrency)))
        if args.raw_only:
            return 0
        with tempfile.TemporaryDirectory(prefix="otp-bench-wait-") as logs:
            for index in range(args.rounds * len(SETTINGS)):
                replicas = SETTINGS[index % len(SETTINGS)]
                runs[replicas].append(one_run(nodes[0], replicas, args, index, Path(logs)))
    finally:
        for node in nodes:
            node.stop()
    for row in report(runs):
        print(json.dumps(row))  # the figures are the output
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
