"""
What the benchmark prints: each phase as it ends, then one summary table per run.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

#: The targets of docs/benchmarks.md (reported, never asserted).
FLOW_TARGET = 0.8
REJECTION_TARGET = 0.5
MEMORY_TARGET_BYTES = 400
#: Above this many cores used by other processes during a phase, rates are not comparable.
SHARED_MACHINE_CORES = 0.25


def _say(text: str = "") -> None:
    print(text, flush=True)


def _latency(stats: Mapping[str, float]) -> str:
    if not stats.get("count"):
        return "n/a"
    return f"p50 {stats['p50']:.1f} / p95 {stats['p95']:.1f} / p99 {stats['p99']:.1f} ms"


def header(machine: Mapping[str, Any], options: Any) -> None:
    """The machine and the options."""
    _say(f"otp-service benchmark, {machine['date']}")
    _say(f"machine: {machine['cores']} cores, {machine['cpu']}, Python {machine['python']}")
    _say(
        f"options: profiles {','.join(options.profiles)}; flows {options.seconds:g} s in "
        f"{options.slices} slices between {options.slices + 1} argon2 ceiling runs of "
        f"{options.ceiling_seconds:g} s; rejections {options.rejection_rounds} rounds of "
        f"{options.rejection_seconds:g} s runs; "
        f"{options.concurrency} driver threads; {options.pending} pending verifications"
    )


def costs(rows: list[Mapping[str, Any]]) -> None:
    """Round trips and argon2 calls per operation."""
    _say("\n== Redis round trips and argon2 calls per operation (in-process, MONITOR) ==")
    _say(f"{'operation':44} {'status':>6} {'round trips':>11} {'in scripts':>10} {'argon2':>14}")
    for row in rows:
        runs = row["runs"]
        trips = sorted(set(row["round_trips"]))
        argon2 = ", ".join(f"{n / runs:g} {name}" for name, n in row["argon2"].items()) or "0"
        statuses = "/".join(str(s) for s in sorted(set(row["statuses"])))
        flag = "" if set(row["statuses"]) == {row["expected_status"]} else "  UNEXPECTED STATUS"
        _say(
            f"{row['operation']:44} {statuses:>6} {'/'.join(map(str, trips)):>11} "
            f"{max(row['in_scripts']):>10} {argon2:>14}{flag}"
        )
        _say(f"{'':44}   sent: {' '.join(row['commands']) or '-'}")


def memory(result: Mapping[str, Any]) -> None:
    """Memory per pending verification."""
    n = result["pending"] or 1
    _say(f"\n== Redis memory, {result['pending']} pending verifications ==")
    _say(
        f"starts: {result['starts_per_second']:.0f}/s, {_latency(result['start_latency_ms'])} "
        f"(statuses {result['starts']})"
    )
    for kind, value in result["kinds"].items():
        _say(
            f"  {kind:32} {value['keys']:>6} keys {value['bytes']:>10} B  "
            f"= {value['bytes'] / n:7.1f} B per verification"
        )
    record = sum(
        result["kinds"].get(kind, {}).get("bytes", 0)
        for kind in ("verification hash", "destination index")
    )
    _say(f"  verification hash + destination index: {record / n:.0f} B per verification")
    _say(f"  INFO used_memory delta / N:           {result['used_memory_delta'] / n:.0f} B")
    _say(
        f"  hash encoding: {result['hash_encoding']}; field value lengths: {result['hash_fields']}"
    )


def flow_figures(results: Mapping[str, Any]) -> dict[str, float]:
    """
    flows/s; the ceiling (mean of every measure); the ratio (median of the slices' ratios, each
    against the ceilings measured around it); and the CPU ratio: argon2 CPU per pair over the
    service's and Redis's CPU per flow, i.e. the ratio this machine would show if nothing but the
    service and its Redis used it (no other load, no driver).
    """
    flows, ceilings = results["flows"], results["ceilings"]
    rate = flows["flows"] / flows["elapsed_seconds"]
    ceiling = statistics.fmean(c["pairs_per_second"] for c in ceilings)
    pair_ms = statistics.fmean(c["cpu_ms_per_pair"] for c in ceilings)
    used = flows["cpu_seconds"]
    flow_ms = (used["service"] + used["redis"]) / max(flows["flows"], 1) * 1e3
    return {
        "flows_per_second": rate,
        "ceiling": ceiling,
        "ratio": statistics.median(s["ratio"] for s in flows["slices"]),
        "pooled_ratio": rate / ceiling,
        "pair_ms": pair_ms,
        "flow_ms": flow_ms,
        "cpu_ratio": pair_ms / flow_ms if flow_ms else 0.0,
    }


def _cpu(result: Mapping[str, Any], operations: int, what: str) -> None:
    used = result["cpu_seconds"]
    capacity = sum(used[name] for name in ("service", "redis", "driver", "others", "idle"))
    shares = ", ".join(
        f"{name} {used[name]:.1f} ({used[name] / capacity:.0%})"
        for name in ("service", "redis", "driver", "others", "idle")
    )
    _say(f"  CPU core-seconds: {shares}")
    if used["service"]:
        _say(
            f"  service CPU in the kernel: {result['service_system_seconds'] / used['service']:.0%}"
        )
    if operations:
        per = used["service"] / operations * 1e3
        redis_per = used["redis"] / operations * 1e3
        _say(f"  service CPU per {what}: {per:.2f} ms; Redis CPU per {what}: {redis_per:.3f} ms")


def flows(results: Mapping[str, Any]) -> None:
    """The flows phase against the argon2 ceiling."""
    result, figures = results["flows"], flow_figures(results)
    _say(f"\n== start+check flows, profile {results['profile']} ==")
    _say(
        f"flows: {figures['flows_per_second']:.1f}/s "
        f"({result['flows']} in {result['elapsed_seconds']:.1f} s)"
    )
    _say(f"  start: {_latency(result['latency_ms'].get('start', {}))}")
    _say(f"  check: {_latency(result['latency_ms'].get('check', {}))}")
    ceilings = " ".join(f"{c['pairs_per_second']:.1f}" for c in results["ceilings"])
    _say(
        f"argon2 ceiling around the slices: {ceilings} pairs/s (mean {figures['ceiling']:.1f}); "
        f"CPU per pair {figures['pair_ms']:.2f} ms"
    )
    for index, piece in enumerate(result["slices"]):
        _say(
            f"  slice {index}: {piece['flows_per_second']:.1f} flows/s / {piece['ceiling']:.1f} "
            f"pairs/s = {piece['ratio']:.2f}  (others used {piece['others_cores']:.2f} cores)"
        )
    verdict = "met" if figures["ratio"] >= FLOW_TARGET else "MISSED"
    _say(
        f"ratio flows/s / pairs/s: median of slices {figures['ratio']:.2f}, pooled "
        f"{figures['pooled_ratio']:.2f} (target {FLOW_TARGET}: {verdict})"
    )
    others = result["cpu_seconds"]["others"] / result["elapsed_seconds"]
    if others > SHARED_MACHINE_CORES:
        _say(
            f"  NOTE: other processes used {others:.2f} cores meanwhile, so the service and the "
            "ceiling may have had different shares of the machine (the scheduler shares CPU per "
            "runnable thread: up to workers x threads argon2 threads in the service, one process "
            "per core in the ceiling). Read the CPU ratio, which does not depend on the shares."
        )
    _cpu(result, result["flows"], "flow")
    _say(
        f"  CPU ratio (argon2 CPU per pair / service+Redis CPU per flow, what the ratio would be "
        f"with the machine to ourselves): {figures['pair_ms']:.2f} / {figures['flow_ms']:.2f} ms "
        f"= {figures['cpu_ratio']:.2f}; the service's own work: "
        f"{figures['flow_ms'] - figures['pair_ms']:.2f} ms per flow"
    )
    stats, flows_done = result["commandstats"], result["flows"] or 1
    driver_reads = result["outbox_reads"]
    total = sum(stats.values()) - driver_reads
    _say(
        f"  Redis commands per flow (INFO commandstats, inside scripts included, the driver's "
        f"{driver_reads} outbox reads excluded): {total / flows_done:.1f}; EVALSHA per flow: "
        f"{stats.get('evalsha', 0) / flows_done:.1f}"
    )
    _say(f"  statuses {result['statuses']}, errors {result['errors'] or 'none'}")
    _say(f"  worker (re)boots during the phase: {result['worker_boots']}")
    if "profile" in result:
        hot_path(result["profile"])


def hot_path(profile: Mapping[str, Any]) -> None:
    """The py-spy summary of a phase."""
    samples = profile["samples"] or 1
    _say(f"  py-spy: {profile['samples']} on-CPU samples of the workers")
    for category, count in sorted(profile["categories"].items(), key=lambda kv: -kv[1]):
        _say(f"    {category:26} {count / samples:6.1%}")
    _say("    hottest functions (self):")
    for function, count in sorted(profile["leaves"].items(), key=lambda kv: -kv[1])[:12]:
        _say(f"      {count / samples:6.1%}  {function}")


def rejections(results: Mapping[str, Any]) -> None:
    """
    Each rejection against the bare endpoint runs around it: requests per second, and the CPU
    ratio (the bare endpoint's CPU per request over the rejection's, its own and Redis's), less
    sensitive to what else runs on the machine meanwhile. Ratios are medians over the rounds.
    """
    _say("\n== rejection path vs bare Flask endpoint (same gunicorn settings) ==")
    for kind, result in results.items():
        stats = result["latency_ms"].get("request", {})
        used = result["cpu_seconds"]
        count = stats.get("count", 0)
        result["requests_per_second"] = count / result["elapsed_seconds"]
        result["cpu_ms_per_request"] = (used["service"] + used["redis"]) / max(count, 1) * 1e3
        result["ratio"] = statistics.median(pair["ratio"] for pair in result["pairs"])
        result["cpu_ratio"] = statistics.median(pair["cpu_ratio"] for pair in result["pairs"])
        verdict = ""
        if kind != "bare Flask endpoint":
            verdict = "met" if result["ratio"] >= REJECTION_TARGET else "MISSED"
        unexpected = {
            status: n
            for status, n in result["statuses"].items()
            if status != f"request {result['expected_status']}"
        }
        _say(
            f"{kind:20} {result['requests_per_second']:6.0f} req/s, "
            f"CPU {result['cpu_ms_per_request']:.3f} ms/req; "
            f"ratio {result['ratio']:.2f} {verdict:6} CPU ratio {result['cpu_ratio']:.2f}"
            + (f"  UNEXPECTED {unexpected} {result['errors']}" if unexpected else "")
        )
        if kind != "bare Flask endpoint":
            rounds = ", ".join(
                f"{p['requests_per_second']:.0f}/{p['bare_requests_per_second']:.0f}="
                f"{p['ratio']:.2f} (CPU {p['cpu_ratio']:.2f})"
                for p in result["pairs"]
            )
            _say(f"  rounds (req/s / bare around it): {rounds}")
        _say(f"  latency {_latency(stats)}; worker (re)boots: {result['worker_boots']}")
        _cpu(result, 0, "request")
        if "profile" in result:
            hot_path(result["profile"])


def summary(results: Mapping[str, Any]) -> None:
    """One markdown table per run, as in ``bench/README.md``."""
    _say("\n== summary (markdown) ==")
    _say("| figure | " + " | ".join(results["profiles"]) + " |")
    _say("| --- | " + " | ".join("---:" for _ in results["profiles"]) + " |")
    rows: dict[str, list[str]] = {}
    for profile in results["profiles"].values():
        values: dict[str, str] = {}
        if "flows" in profile:
            values.update(_flow_rows(profile))
        for kind, result in profile.get("rejections", {}).items():
            values[f"{kind}: req/s (ratio to bare; CPU ratio)"] = (
                f"{result['requests_per_second']:.0f} ({result['ratio']:.2f}; "
                f"{result['cpu_ratio']:.2f})"
            )
        if "memory" in profile:
            memory = profile["memory"]
            n = memory["pending"] or 1
            record = sum(
                memory["kinds"].get(kind, {}).get("bytes", 0)
                for kind in ("verification hash", "destination index")
            )
            values["verification hash + index, B per pending"] = f"{record / n:.0f}"
            values["used_memory delta, B per pending"] = f"{memory['used_memory_delta'] / n:.0f}"
        for row in profile.get("costs", []):
            runs = row["runs"]
            argon2 = "+".join(f"{n // runs}{name[0]}" for name, n in row["argon2"].items()) or "0"
            values[f"{row['operation']}: round trips, argon2"] = (
                f"{max(row['round_trips'])}, {argon2}"
            )
        for name, value in values.items():
            rows.setdefault(name, []).append(value)
    for name, cells in rows.items():
        _say(f"| {name} | " + " | ".join(cells) + " |")


def _flow_rows(profile: Mapping[str, Any]) -> dict[str, str]:
    figures = flow_figures(profile)
    latency = profile["flows"]["latency_ms"]
    return {
        "start+check flows/s": f"{figures['flows_per_second']:.1f}",
        "argon2 hash+verify pairs/s (ceiling)": f"{figures['ceiling']:.1f}",
        f"flows/s ÷ pairs/s, median of slices (target ≥ {FLOW_TARGET})": f"{figures['ratio']:.2f}",
        "argon2 CPU per pair / service+Redis CPU per flow": (
            f"{figures['pair_ms']:.1f} / {figures['flow_ms']:.1f} ms = {figures['cpu_ratio']:.2f}"
        ),
        "start latency p50/p95/p99 ms": _short(latency.get("start", {})),
        "check latency p50/p95/p99 ms": _short(latency.get("check", {})),
    }


def _short(stats: Mapping[str, float]) -> str:
    if not stats.get("count"):
        return "n/a"
    return f"{stats['p50']:.0f} / {stats['p95']:.0f} / {stats['p99']:.0f}"
