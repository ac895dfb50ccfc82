"""
Overload: the service behind nginx driven at twice its capacity, with load shedding on and off.

    .venv/bin/python bench/overload.py [--seconds 30] [--profile otp]

For each setting of ``OTP_MAX_QUEUE_MS`` (1000, the default, and 0, no shedding) it starts a
throwaway ``redis-server``, the service under gunicorn (the shipped configuration) and Debian's
nginx (``deploy/nginx.conf``) on loopback ports, then:

1. measures the capacity: starts (one argon2 hash each) from 16 clients in a closed loop;
2. sends starts at **twice** that rate, open loop (a new request on schedule, whatever the
   answers), for ``--seconds``: the overload;
3. sends them at half the capacity for 10 s: the recovery.

It prints, per phase, the answers by status, the share of 503s, and the latency of the answers
(p50, p99, max, in seconds); requests with no answer within 10 s count as timeouts. The load runs
in this process, on the same two cores as the service: compare the two settings of one run, not
figures of different machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.environment import KEYS, service_environ  # noqa: E402
from bench.servers import gunicorn  # noqa: E402
from otp_service.storage.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.deploy_stack import nginx_config, running_nginx  # noqa: E402
from tests.servers import free_port  # noqa: E402

CLIENT_TIMEOUT: Final = 10.0
CAPACITY_CLIENTS: Final = 16


class Numbers:
    """Destinations never used before (each start is a new verification)."""

    def __init__(self, block: int) -> None:
        self._next = block * 1_000_000

    def next(self) -> str:
        self._next += 1
        return f"+1415{self._next % 10_000_000:07d}"


async def start(port: int, to: str) -> tuple[int, float]:
    """One start through nginx: (status, seconds); status 0 when nothing came back in time."""
    body = json.dumps({"to": to, "channel": "sms"}).encode()
    head = (
        f"POST /v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {KEYS['bench']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    began = time.monotonic()
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head + body)
            await writer.drain()
            status_line = await reader.readline()
            await reader.read()
            writer.close()
        return int(status_line.split()[1]), time.monotonic() - began
    except (TimeoutError, OSError, IndexError, ValueError):
        return 0, time.monotonic() - began


async def closed_loop(port: int, seconds: float, numbers: Numbers) -> float:
    """Requests per second of ``CAPACITY_CLIENTS`` clients, each waiting for its answer."""
    deadline = time.monotonic() + seconds
    served = 0

    async def client() -> None:
        nonlocal served
        while time.monotonic() < deadline:
            status, _ = await start(port, numbers.next())
            served += status == 201

    await asyncio.gather(*(client() for _ in range(CAPACITY_CLIENTS)))
    return served / seconds


async def open_loop(port: int, rate: float, seconds: float, numbers: Numbers) -> list[Any]:
    """``rate`` requests per second for ``seconds``, on schedule; every (status, seconds)."""
    tasks = []
    began = time.monotonic()
    for index in range(int(rate * seconds)):
        await asyncio.sleep(max(began + index / rate - time.monotonic(), 0))
        tasks.append(asyncio.create_task(start(port, numbers.next())))
    return list(await asyncio.gather(*tasks))


def summary(results: list[tuple[int, float]]) -> dict[str, Any]:
    """Answers by status, the share of 503s, and answer latencies."""
    statuses = Counter(status for status, _ in results)
    answered = sorted(seconds for status, seconds in results if status)
    total = max(len(results), 1)

    def at(share: float) -> float:
        return answered[min(int(share * len(answered)), len(answered) - 1)] if answered else 0.0

    return {
        "requests": len(results),
        "statuses": dict(sorted(statuses.items())),
        "share_503": round(statuses[503] / total, 3),
        "timeouts": statuses[0],
        "p50_s": round(at(0.5), 3),
        "p99_s": round(at(0.99), 3),
        "max_s": round(answered[-1], 3) if answered else 0.0,
    }


@contextmanager
def stack(max_queue_ms: int, profile: str, folder: Path) -> Iterator[int]:
    """redis, the service and nginx; nginx's port."""
    with ExitStack() as stack:
        redis_server = stack.enter_context(EmbeddedRedis())
        environ = {
            **service_environ(redis_server.url, profile, log_level="WARNING"),
            "OTP_MAX_QUEUE_MS": str(max_queue_ms),
            "OTP_TRUSTED_PROXIES": "1",
        }
        server = stack.enter_context(gunicorn("wsgi:app", environ, folder / "gunicorn.log"))
        port = free_port()
        prefix = folder / f"nginx-{max_queue_ms}"
        prefix.mkdir()
        config = nginx_config(REPO / "deploy", prefix, server.address, port)
        stack.enter_context(running_nginx(config, port))
        yield port


async def measure(port: int, seconds: float) -> dict[str, Any]:
    """Capacity, then twice it, then half it."""
    numbers = Numbers(int(time.time()) % 90)
    capacity = await closed_loop(port, 10, numbers)
    overload = await open_loop(port, 2 * capacity, seconds, numbers)
    recovery = await open_loop(port, capacity / 2, 10, numbers)
    return {
        "capacity_per_s": round(capacity, 1),
        "overload": summary(overload),
        "recovery": summary(recovery),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--profile", default="otp")
    options = parser.parse_args()
    for max_queue_ms in (1000, 0):
        with (
            tempfile.TemporaryDirectory(prefix="otp-overload-") as folder,
            stack(max_queue_ms, options.profile, Path(folder)) as port,
        ):
            figures = asyncio.run(measure(port, options.seconds))
        print(json.dumps({"OTP_MAX_QUEUE_MS": max_queue_ms, **figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
