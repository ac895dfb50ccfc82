"""
The benchmark's run: one Redis, the bare app, and per argon2 profile the service and the phases
listed in ``bench/options.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import redis

from bench import hotpath, report
from bench.calls import bare_echo, check, limited_start, post
from bench.ceiling import argon2_ceiling
from bench.diagnose import Diagnosis
from bench.environment import KEYS, PREFIX, outbox_key, service_environ
from bench.figures import commandstats_delta, merge_runs, paired, slice_figures
from bench.load import NUMBERS_PER_THREAD
from bench.memory import census, used_memory
from bench.options import Options, budget_seconds, gunicorn_extra, parse_options
from bench.servers import (
    REPO,
    Server,
    cpu_model,
    gunicorn,
    machine_cpu_seconds,
    tree_cpu_seconds,
)
from otp_service.storage.embedded_redis import EmbeddedRedis


def run_driver(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``bench.load`` in a process of its own, with a hard timeout; its JSON result."""
    finished = subprocess.run(
        [sys.executable, "-m", "bench.load", json.dumps(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=float(spec["seconds"]) + 90,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"the load driver failed: {finished.stderr[-3000:]}")
    return cast(dict[str, Any], json.loads(finished.stdout))


class Bench:
    """One run: one Redis, the bare app, and the service once per profile."""

    def __init__(self, options: Options, redis_url: str, bare: Server, workdir: Path) -> None:
        self.options = options
        self.redis_url = redis_url
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.bare = bare
        self.workdir = workdir

    def spec(self, server: Server, mode: str, seconds: float, **extra: Any) -> dict[str, Any]:
        return {
            "address": server.address,
            "mode": mode,
            "seconds": seconds,
            "concurrency": self.options.concurrency,
            "api_key": KEYS["bench"],
            "redis_url": self.redis_url,
            "outbox_key": outbox_key(),
            **extra,
        }

    def commandstats(self) -> dict[str, Any]:
        """``INFO commandstats``: calls per command, those run inside scripts included."""
        return cast(dict[str, Any], self.redis.info("commandstats"))

    def cpu(self, server: Server) -> dict[str, float]:
        info = cast(dict[str, float], self.redis.info("cpu"))
        busy, total = machine_cpu_seconds()
        user, system = tree_cpu_seconds(server.pid)
        return {
            "service": user + system,
            "service_system": system,
            "redis": info["used_cpu_sys"] + info["used_cpu_user"],
            "busy": busy,
            "total": total,
        }

    def driven(self, server: Server, spec: dict[str, Any], label: str) -> dict[str, Any]:
        """Run the driver, with CPU accounting, worker restarts and (optionally) py-spy."""
        log_offset = server.log_size()
        before = self.cpu(server)
        if self.options.py_spy and self.options.out:
            out = self.options.out / label
            out.mkdir(parents=True, exist_ok=True)
            with hotpath.recording(
                self.options.py_spy, server.worker_pids(), spec["seconds"], out
            ) as files:
                result = run_driver(spec)
            result["profile"] = hotpath.as_dict(hotpath.summarise(files))
        else:
            result = run_driver(spec)
        after = self.cpu(server)
        used = {name: after[name] - before[name] for name in ("service", "redis")}
        system = after["service_system"] - before["service_system"]
        used["driver"] = result["driver_cpu_seconds"]
        used["others"] = (after["busy"] - before["busy"]) - sum(used.values())
        used["idle"] = (after["total"] - after["busy"]) - (before["total"] - before["busy"])
        result["cpu_seconds"] = used
        result["service_system_seconds"] = system
        result["worker_boots"] = server.log_text(log_offset).count("Booting worker")
        return result

    def run_profile(self, profile: str) -> dict[str, Any]:
        """Every phase asked for, for one argon2 profile."""
        self.redis.flushall()
        phases = self.options.phases
        environ = service_environ(self.redis_url, profile, self.options.log_level)
        results: dict[str, Any] = {"profile": profile, "cores": os.cpu_count() or 1}
        if "costs" in phases:
            diagnosis = Diagnosis(self.redis_url, environ, KEYS)
            runs = self.options.diagnosis_runs
            results["costs"] = [asdict(cost) for cost in diagnosis.all_costs(runs)]
            report.costs(results["costs"])
        log = self.workdir / f"service-{profile}.log"
        with gunicorn("wsgi:app", environ, log, gunicorn_extra(self.options)) as service:
            self.warm_up(service)
            if "memory" in phases:
                results["memory"] = self.memory(service)
                report.memory(results["memory"])
            if "flows" in phases:
                results.update(self.flows(service, profile))
                report.flows(results)
            if "rejections" in phases:
                results["rejections"] = self.rejections(service, profile)
                report.rejections(results["rejections"])
        return results

    def flows(self, service: Server, profile: str) -> dict[str, Any]:
        """
        Slices of flows, each between two measures of the argon2 ceiling: the ratio of each slice
        is taken against the ceiling measured just before and just after it, so that the load
        others put on the machine changes as little as possible between the two terms.
        """
        slices = self.options.slices
        seconds, ceiling_seconds = self.options.seconds / slices, self.options.ceiling_seconds
        ceilings = [argon2_ceiling(profile, ceiling_seconds)]
        runs = []
        stats_before = self.commandstats()
        for index in range(slices):
            number_base = 1_000_000 + index * self.options.concurrency * NUMBERS_PER_THREAD
            spec = self.spec(service, "flows", seconds, number_base=number_base)
            runs.append(self.driven(service, spec, f"{profile}-flows-{index}"))
            ceilings.append(argon2_ceiling(profile, ceiling_seconds))
        merged = merge_runs(runs)
        merged["commandstats"] = commandstats_delta(stats_before, self.commandstats())
        merged["slices"] = [
            slice_figures(run, ceilings[index], ceilings[index + 1])
            for index, run in enumerate(runs)
        ]
        return {"flows": merged, "ceilings": [asdict(ceiling) for ceiling in ceilings]}

    def warm_up(self, service: Server) -> None:
        """Every worker imported, every script loaded, the dev outbox full."""
        run_driver(self.spec(service, "flows", 3, number_base=6_000_000))

    def memory(self, service: Server) -> dict[str, Any]:
        """N pending verifications: key memory by kind (delta), ``used_memory`` delta."""
        before, used_before = census(self.redis, PREFIX), used_memory(self.redis)
        spec = self.spec(
            service, "starts", self.options.seconds, number_base=0, max_starts=self.options.pending
        )
        driven = run_driver(spec)
        after, used_after = census(self.redis, PREFIX), used_memory(self.redis)
        kinds = sorted(set(after.counts) | set(before.counts))
        return {
            "starts": driven["statuses"],
            "pending": after.counts["verification hash"] - before.counts["verification hash"],
            "start_latency_ms": driven["latency_ms"].get("start", {}),
            "starts_per_second": driven["latency_ms"].get("start", {}).get("count", 0)
            / driven["elapsed_seconds"],
            "kinds": {
                kind: {
                    "keys": after.counts[kind] - before.counts[kind],
                    "bytes": after.bytes[kind] - before.bytes[kind],
                }
                for kind in kinds
            },
            "used_memory_delta": used_after - used_before,
            "hash_encoding": after.sample_hash_encoding,
            "hash_fields": after.sample_hash_fields,
        }

    def rejections(self, service: Server, profile: str) -> dict[str, Any]:
        """
        Each rejection between two runs of the bare endpoint, in rounds: bare, kind 1, bare,
        kind 2, ..., bare. Each run of a kind is compared with the bare runs just before and
        after it; a kind's ratio is the median over the rounds.
        """
        locked = [self.locked_verification(service, 7_000_000 + i) for i in range(8)]
        self.start_limited(service)
        unknown = [f"vf_{secrets.token_hex(16)}" for _ in range(16)]
        kinds: dict[str, tuple[int, list[dict[str, Any]]]] = {
            "unknown id": (404, [check(vid, KEYS["bench"]) for vid in unknown]),
            "locked verification": (429, [check(vid, KEYS["bench"]) for vid in locked]),
            "rate-limited start": (429, [limited_start()]),
            "bad API key": (401, [check(vid, "not-a-key") for vid in unknown]),
        }
        seconds = self.options.rejection_seconds
        bare_spec = self.spec(self.bare, "requests", seconds, requests=[bare_echo()])
        bare_runs = [self.driven(self.bare, bare_spec, f"{profile}-bare-0")]
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
        pairs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
        for round_ in range(self.options.rejection_rounds):
            for kind, (_, requests) in kinds.items():
                spec = self.spec(service, "requests", seconds, requests=requests)
                label = f"{profile}-{kind.replace(' ', '-')}-{round_}"
                runs[kind].append(self.driven(service, spec, label))
                label = f"{profile}-bare-{len(bare_runs)}"
                bare_runs.append(self.driven(self.bare, bare_spec, label))
                pairs[kind].append(paired(runs[kind][-1], bare_runs[-2], bare_runs[-1]))
        results: dict[str, Any] = {}
        for kind, (expected, _) in kinds.items():
            results[kind] = {**merge_runs(runs[kind]), "expected_status": expected}
            results[kind]["pairs"] = pairs[kind]
        bare = {**merge_runs(bare_runs), "expected_status": 200}
        bare["pairs"] = [{"ratio": 1.0, "cpu_ratio": 1.0}]
        return {"bare Flask endpoint": bare, **results}

    def locked_verification(self, service: Server, number: int) -> str:
        """A pending verification whose every check is used: started, then checked wrong."""
        to = f"+1415{number:07d}"
        started = post(service, "/v1/verifications", {"to": to, "channel": "sms"}, "bench")
        verification_id = str(started["id"])
        for raw in cast(list[str], self.redis.lrange(outbox_key(), 0, 99)):
            message = json.loads(raw)
            if message["verification_id"] == verification_id:
                wrong = "000000" if "000000" not in message["text"] else "111111"
                for _ in range(101):  # max_attempts (at most 100) wrong checks, then a 429
                    path = f"/v1/verifications/{verification_id}/check"
                    if post(service, path, {"code": wrong}, "bench").get("status") == 429:
                        return verification_id
        raise RuntimeError("could not lock a verification")

    def start_limited(self, service: Server) -> None:
        """Use up the ``limited`` client's one start an hour."""
        post(service, "/v1/verifications", {"to": "+14155550100", "channel": "sms"}, "limited")


def _time_is_up(signum: int, frame: object) -> None:
    raise TimeoutError("the benchmark ran past its time budget")


def main(argv: list[str]) -> int:
    """Run the benchmark; print every figure; write ``results.json`` under ``--out``."""
    options = parse_options(argv)
    # Every server is stopped on the way out (context managers), however the run ends.
    signal.signal(signal.SIGALRM, _time_is_up)
    signal.alarm(budget_seconds(options))
    machine = {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": sys.version.split()[0],
    }
    report.header(machine, options)
    if options.out:
        options.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": machine,
        "options": {**asdict(options), "out": str(options.out)},
        "profiles": {},
    }
    extra = gunicorn_extra(options)
    with (
        tempfile.TemporaryDirectory(prefix="otp-bench-") as workdir,
        EmbeddedRedis() as server,
        # The shipped configuration refuses to start on a bad OTP_* configuration, even for an
        # app that reads none: the bare app gets the service's (development) environment.
        gunicorn(
            "bench.bare_app:app",
            service_environ(server.url, options.profiles[0]),
            Path(workdir) / "bare.log",
            extra,
        ) as bare,
    ):
        bench = Bench(options, server.url, bare, Path(workdir))
        for profile in options.profiles:
            results["profiles"][profile] = bench.run_profile(profile)
    signal.alarm(0)
    report.summary(results)
    if options.out:
        (options.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    return 0
