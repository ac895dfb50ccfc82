"""
At least once: a worker SIGKILLed in the middle of a webhook delivery loses nothing; another worker
runs the job again once the dead one's heartbeat is overdue (slow: real processes, real waits).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from otp_service import create_app
from otp_service.config.settings import Settings
from tests.support import PEPPER, PHONE, api_keys_json, auth
from tests.webhooks.receiver import endpoints_json, receiving

pytestmark = pytest.mark.slow
REQUEUE_AFTER_SECONDS = 3


def _worker(environ: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "otp-service"), "worker", "--threads", "2"]
    return subprocess.Popen(
        command, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_a_job_of_a_killed_worker_runs_again(
    redis_url: str, prefix: str, redis_client: redis.Redis
) -> None:
    """The first delivery is held; its worker is SIGKILLed; a second worker delivers it again."""
    with receiving() as receiver:
        environ = {
            **os.environ,
            "OTP_ENV": "development",
            "OTP_REDIS_URL": redis_url,
            "OTP_REDIS_PREFIX": prefix,
            "OTP_PEPPER": PEPPER.decode(),
            "OTP_API_KEYS": json.dumps(api_keys_json()),
            "OTP_ARGON2_PROFILE": "test",
            "OTP_WEBHOOKS": endpoints_json(receiver.url, events=["verification.started"]),
            "OTP_WEBHOOKS_ALLOW_PRIVATE": "true",
            "OTP_JOBS_REQUEUE_AFTER_SECONDS": str(REQUEUE_AFTER_SECONDS),
        }
        receiver.hold.set()
        first = _worker(environ)
        second = None
        try:
            app = create_app(Settings.from_env(environ))
            body = {"to": PHONE, "channel": "sms"}
            assert (
                201
                == app.test_client()
                .post("/v1/verifications", json=body, headers=auth())
                .status_code
            )
            assert receiver.wait_for(lambda r: len(r.received) >= 1, timeout_seconds=30)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            killed_at = time.monotonic()
            receiver.hold.clear()
            receiver.released.set()
            second = _worker(environ)
            assert receiver.wait_for(lambda r: len(r.received) >= 2, timeout_seconds=120)
            again_after = time.monotonic() - killed_at
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(30)
        held, delivered = receiver.received[:2]
        assert held.headers["webhook-id"] == delivered.headers["webhook-id"]
        assert again_after < 120
        print(f"run again {again_after:.1f} s after the SIGKILL")
