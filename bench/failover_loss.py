"""
What a Sentinel failover loses of the writes Redis acknowledged, with and without ``WAIT``.

``.venv/bin/python bench/failover_loss.py`` (about 8 minutes). Per case (``WAIT`` 0, 1 or 2; fault
``SENTINEL FAILOVER``, SIGKILL of the master, or SIGSTOP of it for 6 s): a master, two replicas and
three Sentinels (``tests/reliability/ha_topologies.py``), client threads writing one new key per
call through the service's own Sentinel connection
(``otp_service.storage.connection.connect``), each write a script followed by ``WAIT n 1000``
in one pipeline, counted as acknowledged when the script
answered and (for n > 0) at least n replicas acknowledged. The fault comes after a few seconds of
writes; the writes go on through the split-brain window; once the topology has settled, every
acknowledged key is looked up on the master. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from otp_service.storage.connection import connect
from tests.reliability.ha_topologies import SentinelGroup

SCRIPT = "return redis.call('SET', KEYS[1], ARGV[1])"


class Writer:
    """Threads writing keys ``loss:<thread>:<n>``; the acknowledged ones kept."""

    def __init__(self, url: str, replicas: int) -> None:
        self.client = connect(url, 2.0)
        self.script = self.client.register_script(SCRIPT)
        self.replicas = replicas
        self.acknowledged: list[str] = []
        self.failed = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def write(self, key: str) -> bool:
        """One script and its WAIT in one pipeline: whether it counts as acknowledged."""
        pipe = self.client.pipeline(transaction=False)
        self.script(keys=[key], args=["1"], client=pipe)
        pipe.execute_command("WAIT", self.replicas, 1000)  # type: ignore[no-untyped-call]
        answer, acks = pipe.execute()
        return answer == "OK" and int(acks) >= self.replicas

    def loop(self, thread: int) -> None:
        """Write until stopped."""
        for n in range(10_000_000):
            if self.stop.is_set():
                return
            key = f"loss:{thread}:{n}"
            try:
                is_acknowledged = self.write(key)
            except redis.RedisError:
                is_acknowledged = False
                time.sleep(0.02)
            with self._lock:
                if is_acknowledged:
                    self.acknowledged.append(key)
                else:
                    self.failed += 1


def one_case(replicas: int, fault: str, seconds: float) -> dict[str, Any]:
    """Writes, the fault, more writes for ``seconds``, then the count of what was lost."""
    group = SentinelGroup().start()
    try:
        writer = Writer(group.url, replicas)
        threads = [threading.Thread(target=writer.loop, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        inject: dict[str, Callable[[], None]] = {
            "failover": group.sentinel_failover,
            "sigkill": group.kill_master,
            "sigstop": lambda: group.pause_master(6.0),
        }
        inject[fault]()
        time.sleep(seconds)
        writer.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        group.wait_settled()
        with group.master().client() as master:
            kept = sum(master.exists(key) for key in writer.acknowledged)
        lost = len(writer.acknowledged) - kept
        return {"wait_replicas": replicas, "fault": fault, "acknowledged": len(writer.acknowledged),
                "lost": lost, "not_acknowledged": writer.failed}  # fmt: skip
    finally:
        group.stop()


def main(argv: list[str]) -> int:
    """Every case; one JSON row each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="writes after the fault")
    args = parser.parse_args(argv)
    for replicas in (0, 1, 2):
        for fault in ("failover", "sigkill", "sigstop"):
            print(json.dumps(one_case(replicas, fault, args.seconds)))  # the figures
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
