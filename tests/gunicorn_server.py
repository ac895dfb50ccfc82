"""
A real gunicorn serving ``wsgi:app`` with the shipped configuration, on a free loopback port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from otp_service.storage.embedded_redis import free_port, stop_process

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def running_gunicorn(
    environ: Mapping[str, str], workers: int = 2, threads: int = 16
) -> Iterator[str]:
    """Run gunicorn with ``environ`` (OTP_* settings); yields its base URL; stops it after."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTP_")},
        **environ,
        "OTP_BIND": f"127.0.0.1:{port}",
        "OTP_WORKERS": str(workers),
        "OTP_THREADS": str(threads),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_live(base, process)
        yield base
    finally:
        stop_process(process, timeout_seconds=15)
        if process.stderr is not None:
            process.stderr.close()


def _wait_until_live(base: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"gunicorn exited: {error[-2000:]}")
        try:
            if requests.get(f"{base}/livez", timeout=0.5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not become live in time")


def service_environ(
    redis_url: str, prefix: str, api_keys: list[dict[str, object]]
) -> dict[str, str]:
    """Development settings with the dev sender, the cheapest argon2 profile, on ``redis_url``."""
    return {
        "OTP_ENV": "development",
        "OTP_REDIS_URL": redis_url,
        "OTP_REDIS_PREFIX": prefix,
        "OTP_PEPPER": "gunicorn-test-pepper-0123456789abcdef",
        "OTP_API_KEYS": json.dumps(api_keys),
        "OTP_ARGON2_PROFILE": "test",
        "OTP_LOG_LEVEL": "WARNING",
    }
