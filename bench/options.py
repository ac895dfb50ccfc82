"""
Benchmark otp-service against this machine's ceilings, per argon2 profile, in phases:

1. costs: Redis round trips and argon2 calls per operation (in-process, ``bench.diagnose``);
2. memory: N starts through gunicorn, then ``MEMORY USAGE`` by key kind and ``INFO memory``;
3. flows: start+check through gunicorn from the load driver, in slices, each between two runs of
   the ceiling (bare argon2 hash+verify pairs per second on every core), with CPU accounting;
4. rejections: unknown id, locked, rate-limited start, bad key, each between two runs of the bare
   Flask endpoint.

See bench/README.md.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

PHASES = ("costs", "memory", "flows", "rejections")


@dataclass(frozen=True, slots=True)
class Options:
    """What to run, and for how long."""

    profiles: list[str]
    seconds: float
    ceiling_seconds: float
    rejection_seconds: float
    concurrency: int
    pending: int
    workers: int | None
    threads: int | None
    log_level: str
    py_spy: str | None
    out: Path | None
    diagnosis_runs: int
    phases: frozenset[str]
    slices: int
    rejection_rounds: int


def parse_options(argv: list[str]) -> Options:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--profile",
        choices=["otp", "owasp", "all", "test"],
        default="otp",
        help="argon2 profile; all = otp and owasp; test (cheapest argon2) shows the service's "
        "own cost per flow",
    )
    parser.add_argument("--seconds", type=float, default=20, help="flows phase, all slices")
    parser.add_argument("--slices", type=int, default=4, help="flows slices between ceilings")
    parser.add_argument(
        "--ceiling-seconds", type=float, help="each argon2 ceiling run (default: half a slice)"
    )
    parser.add_argument("--rejection-seconds", type=float, default=2, help="each rejection run")
    parser.add_argument("--rejection-rounds", type=int, default=3, help="rounds of rejections")
    parser.add_argument("--concurrency", type=int, default=16, help="driver threads (closed loop)")
    parser.add_argument("--pending", type=int, default=2000, help="verifications for memory")
    parser.add_argument("--workers", type=int, help="OTP_WORKERS (default: the config's)")
    parser.add_argument("--threads", type=int, help="OTP_THREADS (default: the config's)")
    parser.add_argument("--log-level", default="INFO", help="OTP_LOG_LEVEL (production: INFO)")
    parser.add_argument("--py-spy", help="path of a py-spy binary: profile the workers")
    parser.add_argument("--out", type=Path, help="directory for results.json and raw profiles")
    parser.add_argument("--diagnosis-runs", type=int, default=5)
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (all by default)",
    )
    args = parser.parse_args(argv)
    return Options(
        profiles=["otp", "owasp"] if args.profile == "all" else [args.profile],
        seconds=args.seconds,
        ceiling_seconds=args.ceiling_seconds or args.seconds / args.slices / 2,
        rejection_seconds=args.rejection_seconds,
        concurrency=args.concurrency,
        pending=args.pending,
        workers=args.workers,
        threads=args.threads,
        log_level=args.log_level,
        py_spy=args.py_spy,
        out=args.out,
        diagnosis_runs=args.diagnosis_runs,
        phases=frozenset(args.phases.split(",")) & frozenset(PHASES),
        slices=max(args.slices, 1),
        rejection_rounds=max(args.rejection_rounds, 1),
    )


def gunicorn_extra(options: Options) -> dict[str, str]:
    """``OTP_WORKERS``/``OTP_THREADS`` when given; else the configuration's own defaults."""
    values = (("OTP_WORKERS", options.workers), ("OTP_THREADS", options.threads))
    return {name: str(value) for name, value in values if value}


def budget_seconds(options: Options) -> int:
    """A hard limit for the whole run: every phase at its longest, plus start-up and set-up."""
    per_profile = (
        options.seconds * 2  # memory (time-capped) and flows
        + (options.ceiling_seconds + 5) * (options.slices + 1)
        + (options.rejection_seconds + 5) * (8 * options.rejection_rounds + 1)
        + 300
    )
    return int(per_profile * len(options.profiles)) + 60
