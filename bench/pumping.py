"""
Score the SMS pumping guard: ``.venv/bin/python bench/pumping.py --scenario FILE.json [--seed N]``.

Runs the guard's own code (``otp_service.fraud``) against a real Redis with a simulated clock
(a day of traffic in seconds): a throwaway ``redis-server``, or ``REDIS_URL`` when set (then only
this run's keys are written, and deleted at the end). Prints, to standard output:

    attack=I pumped_delivered=N pumped_refused=N time_to_block_s=T    (one line per attack)
    safe_refused=N
    pumped_delivered=N legit_refused_pct=X

``time_to_block_s`` is ``inf`` for an attack never refused. See bench/README.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench.pumping_scenario import ScenarioError, load_scenario
from bench.pumping_sim import Result, simulate
from otp_service.storage.embedded_redis import EmbeddedRedis


def report(result: Result) -> list[str]:
    """The contract's output lines of a run."""
    lines = []
    for index, attack in enumerate(result.attacks):
        block = attack.time_to_block_s
        shown = "inf" if block is None else f"{block:.0f}"
        lines.append(
            f"attack={index} pumped_delivered={attack.delivered} "
            f"pumped_refused={attack.refused} time_to_block_s={shown}"
        )
    lines.append(f"safe_refused={result.safe_refused}")
    delivered = sum(attack.delivered for attack in result.attacks)
    lines.append(f"pumped_delivered={delivered} legit_refused_pct={result.legit_refused_pct:.3f}")
    return lines


def _run(path: Path, seed: int, url: str) -> Result:
    scenario = load_scenario(path)
    key_prefix = f"pumpsim:{secrets.token_hex(4)}"
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return simulate(scenario, client, key_prefix, seed)
    finally:
        keys = list(client.scan_iter(match=f"{key_prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()


def main(argv: list[str]) -> int:
    """Run one scenario and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, required=True, help="a scenario file (JSON)")
    parser.add_argument("--seed", type=int, default=1, help="the random seed (default 1)")
    args = parser.parse_args(argv)
    logging.getLogger("otp_service.fraud").setLevel(logging.ERROR)  # the figures say it all
    began = time.monotonic()
    try:
        given = os.environ.get("REDIS_URL")
        if given:
            result = _run(args.scenario, args.seed, given)
        else:
            with EmbeddedRedis() as server:
                result = _run(args.scenario, args.seed, server.url)
    except ScenarioError as error:
        print(f"bench/pumping.py: {error}", file=sys.stderr)
        return 2
    print(
        f"# {args.scenario.name} seed={args.seed}: {result.legit_sends} legitimate sends, "
        f"{sum(a.delivered + a.refused for a in result.attacks)} pumped, "
        f"blocks {' '.join(result.blocks) or 'none'}, {time.monotonic() - began:.1f} s",
        file=sys.stderr,
    )
    print("\n".join(report(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
