"""The README's walk-through: `otp-service dev` alone, as a new user runs it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from otp_service.storage.embedded_redis import free_port


def _wait_for(log: Path, pattern: str, process: subprocess.Popen[bytes]) -> re.Match[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        found = re.search(pattern, log.read_text())
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not printed in time: {pattern}\n{log.read_text()}")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_dev_walkthrough_then_ctrl_c_stops_the_embedded_redis(tmp_path: Path) -> None:
    """Start, read the code on the outbox, check: approved; Ctrl-C stops service and Redis."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTP_")}
    log = tmp_path / "dev.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "otp_service.cli", "dev", "--port", str(port)],
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            key = _wait_for(log, r"Dev API key \(all scopes\):\s+(\S+)", process).group(1)
            redis_port = int(_wait_for(log, r"redis://127\.0\.0\.1:(\d+)/0", process).group(1))
            assert _answers(port)  # the banner's curl lines work as soon as they are printed
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {key}"}
            started = requests.post(
                f"{base}/v1/verifications",
                json={"to": "+14155550100", "channel": "sms"},
                headers=headers,
                timeout=10,
            )
            assert 201 == started.status_code, started.text
            outbox = requests.get(f"{base}/dev/outbox.json", timeout=5).json()["messages"]
            code = re.search(r"\b(\d{6})\b", outbox[0]["text"])
            assert code is not None
            checked = requests.post(
                f"{base}/v1/verifications/{started.json()['id']}/check",
                json={"code": code.group(1)},
                headers=headers,
                timeout=10,
            )
            assert "approved" == checked.json()["status"]
            assert code.group(1) in log.read_text()  # the DEV DELIVERY log line
            assert _answers(redis_port)
            process.send_signal(signal.SIGINT)
            assert 0 == process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert not _answers(redis_port)


def test_dev_on_a_taken_port_says_which_and_exits_1(tmp_path: Path) -> None:
    """A port already in use: one clear line and exit 1, no traceback, no banner."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTP_")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(
            [sys.executable, "-m", "otp_service.cli", "dev", "--port", str(port)],
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert 1 == finished.returncode, finished.stderr
    assert f"Port {port} is in use" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert "Dev API key" not in finished.stdout
