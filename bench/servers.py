"""
The servers a benchmark runs: gunicorn with the shipped configuration, and CPU accounting from
``/proc`` (who used the cores during a phase: the server, Redis, the driver, everyone else).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from otp_service.storage.embedded_redis import free_port

REPO: Final = Path(__file__).resolve().parent.parent
_TICKS_PER_SECOND: Final = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Server:
    """A running gunicorn: its master's pid, its address and its log file."""

    pid: int
    address: str
    log_path: Path

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.address}"

    def worker_pids(self) -> list[int]:
        """The pids of the live workers."""
        return _children(self.pid)

    def log_text(self, offset: int = 0) -> str:
        """What gunicorn and the app wrote from ``offset`` (bytes) on."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")

    def log_size(self) -> int:
        """The log's size in bytes."""
        return self.log_path.stat().st_size


@contextmanager
def gunicorn(
    app: str,
    environ: Mapping[str, str],
    log_path: Path,
    extra: Mapping[str, str] | None = None,
    config: str = "gunicorn.conf.py",
) -> Iterator[Server]:
    """
    ``gunicorn -c gunicorn.conf.py <app>`` from the repository root, on a free loopback port
    (another ``config`` only for experiments: the figures are the shipped configuration's).

    ``environ`` replaces every ``OTP_*`` variable of ours; ``OTP_BIND`` is set here. Stopped (and
    killed if it does not stop within its graceful timeout) when the block ends.
    """
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTP_")},
        **environ,
        **(extra or {}),
        "OTP_BIND": f"127.0.0.1:{port}",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "gunicorn", "-c", config, app]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(process.pid, f"127.0.0.1:{port}", log_path)
    try:
        _wait_until_live(server, process)
        yield server
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within 30 s (gunicorn's graceful timeout)."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _wait_until_live(server: Server, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {server.log_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/livez", timeout=1) as response:  # noqa: S310 (our loopback URL)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not become live within 30 s")


def _children(pid: int) -> list[int]:
    children: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            children.extend(int(child) for child in text.split())
    except OSError:
        return []
    return children


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of ``pid`` and its waited-for children; zeros when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0, 0.0
    # After the command name: utime, stime, cutime, cstime are fields 14-17 of proc(5).
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + cutime) / _TICKS_PER_SECOND, (stime + cstime) / _TICKS_PER_SECOND


def tree_cpu_seconds(pid: int) -> tuple[float, float]:
    """
    (user, system) CPU seconds of ``pid`` and its live children (gunicorn's workers).

    A worker that exits is counted in its parent's figures once reaped: the children are read
    first and the parent last, and the whole read is repeated if the set of children changed,
    so a worker recycled meanwhile is never lost (it could only be counted twice, in a window
    of microseconds).
    """
    for _ in range(5):
        children = _children(pid)
        times = [process_cpu_seconds(child) for child in children]
        times.append(process_cpu_seconds(pid))
        if _children(pid) == children:
            break
    return sum(user for user, _ in times), sum(system for _, system in times)


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores summed."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    idle = values[3] + values[4]
    return (total - idle) / _TICKS_PER_SECOND, total / _TICKS_PER_SECOND


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo``."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown"
