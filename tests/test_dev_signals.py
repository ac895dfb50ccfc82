"""
``otp-service dev`` leaves nothing behind, however it ends: Ctrl-C, ``kill``, a closed terminal
(SIGHUP) or ``kill -9``. Its redis-server ends with it; its temp dir is removed, at the latest
by the next start.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from otp_service.storage.embedded_redis import DIR_PREFIX, EmbeddedRedis
from tests.test_dev_command import _answers, _wait_for


def _gone_within(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _answers(port):
            return True
        time.sleep(0.1)
    return False


def _shut_down(port: int) -> None:
    """Stop a redis-server the test started that outlived the dev process (a failed test)."""
    if _answers(port):
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.sendall(b"SHUTDOWN NOSAVE\r\n")


def _redis_dirs(parent: Path) -> list[Path]:
    return sorted(parent.glob(f"{DIR_PREFIX}*"))


@pytest.mark.parametrize(
    "signum",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
    ids=lambda signum: signal.Signals(signum).name,
)
def test_dev_leaves_no_redis_and_no_directory(
    signum: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded Redis stops with the dev process, and its directory goes."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTP_")}
    environ["TMPDIR"] = str(temp)
    log = tmp_path / "dev.log"
    redis_port = 0
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "otp_service.cli", "dev", "--port", "0"],
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            redis_port = int(_wait_for(log, r"redis://127\.0\.0\.1:(\d+)/0", process).group(1))
            assert 1 == len(_redis_dirs(temp))
            process.send_signal(signum)
            process.wait(timeout=20)
            assert _gone_within(redis_port, 10), "redis-server outlived otp-service dev"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if redis_port:
                _shut_down(redis_port)
    if signum == signal.SIGKILL:
        # Nothing runs in a process killed with SIGKILL: the next start removes its directory.
        monkeypatch.setattr(tempfile, "tempdir", str(temp))
        with EmbeddedRedis():
            assert 1 == len(_redis_dirs(temp))
    assert [] == _redis_dirs(temp), log.read_text()
