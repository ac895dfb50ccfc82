"""
Figures from the load driver's results: merged runs, paired ratios, slices against the ceiling.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench import hotpath
from bench.ceiling import Ceiling
from bench.load import percentiles


def request_figures(run: dict[str, Any]) -> dict[str, float]:
    """Requests per second and CPU ms per request (the server's and Redis's) of one run."""
    count = run["latency_ms"].get("request", {}).get("count", 0)
    used = run["cpu_seconds"]
    return {
        "requests_per_second": count / run["elapsed_seconds"],
        "cpu_ms_per_request": (used["service"] + used["redis"]) / count * 1e3 if count else 0.0,
    }


def paired(run: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """A run of a rejection against the bare runs just before and after it."""
    mine, bare = request_figures(run), [request_figures(before), request_figures(after)]
    bare_rate = (bare[0]["requests_per_second"] + bare[1]["requests_per_second"]) / 2
    bare_ms = (bare[0]["cpu_ms_per_request"] + bare[1]["cpu_ms_per_request"]) / 2
    return {
        **mine,
        "bare_requests_per_second": bare_rate,
        "bare_cpu_ms_per_request": bare_ms,
        "ratio": mine["requests_per_second"] / bare_rate if bare_rate else 0.0,
        "cpu_ratio": bare_ms / mine["cpu_ms_per_request"] if mine["cpu_ms_per_request"] else 0.0,
    }


def slice_figures(run: dict[str, Any], before: Ceiling, after: Ceiling) -> dict[str, float]:
    """One slice of flows against the ceilings measured around it."""
    ceiling = (before.pairs_per_second + after.pairs_per_second) / 2
    pair_ms = (before.cpu_ms_per_pair + after.cpu_ms_per_pair) / 2
    rate = run["flows"] / run["elapsed_seconds"]
    used = run["cpu_seconds"]
    flow_ms = (used["service"] + used["redis"]) / max(run["flows"], 1) * 1e3
    return {
        "flows_per_second": rate,
        "ceiling": ceiling,
        "ratio": rate / ceiling,
        "pair_ms": pair_ms,
        "flow_ms": flow_ms,
        "others_cores": used["others"] / run["elapsed_seconds"],
    }


def merge_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Driver results of several runs as one: sums, and percentiles of every sample."""
    samples: dict[str, list[float]] = {}
    for run in runs:
        for operation, values in run.pop("samples_ms", {}).items():
            samples.setdefault(operation, []).extend(values)
    merged: dict[str, Any] = {
        name: sum(run[name] for run in runs)
        for name in (
            "elapsed_seconds", "flows", "driver_cpu_seconds", "outbox_reads", "worker_boots",
            "service_system_seconds",
        )
    }  # fmt: skip
    merged["latency_ms"] = {operation: percentiles(values) for operation, values in samples.items()}
    for name in ("statuses", "errors", "cpu_seconds"):
        total: Counter[str] = Counter()
        for run in runs:
            total.update(run[name])
        merged[name] = dict(total)
    profiles = [run["profile"] for run in runs if "profile" in run]
    if profiles:
        merged["profile"] = hotpath.merge(profiles)
    merged["runs"] = len(runs)
    return merged


def commandstats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Calls per command between two ``INFO commandstats``."""
    return {
        name.removeprefix("cmdstat_"): int(stats["calls"])
        - int(before.get(name, {}).get("calls", 0))
        for name, stats in after.items()
        if int(stats["calls"]) != int(before.get(name, {}).get("calls", 0))
    }
