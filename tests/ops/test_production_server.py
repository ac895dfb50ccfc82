"""
The production server, as the Docker image runs it: the Dockerfile's CMD (gunicorn with the shipped
configuration, two workers) on loopback. JSON logs on stdout, metrics merged across workers, and
the image's HEALTHCHECK command.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from otp_service.storage.embedded_redis import free_port
from tests.servers.topologies import wait_until
from tests.support import PEPPER, api_keys_json

pytestmark = pytest.mark.gunicorn

REPO = Path(__file__).resolve().parents[2]
# Continuation lines joined: each instruction on one line.
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
STALE_METRICS_FILE = "counter_999999.db"


def dockerfile_json_array(instruction: str) -> list[str]:
    """The exec-form arguments of the Dockerfile's ``instruction`` (``CMD``, ``HEALTHCHECK``)."""
    match = re.search(rf"^{instruction}\b[^\[]*(\[.*\])\s*$", DOCKERFILE, flags=re.MULTILINE)
    assert match is not None, instruction
    arguments: list[str] = json.loads(match.group(1))
    return arguments


@dataclass
class Server:
    """A running server: its base URL, its stdout so far and its metrics directory."""

    base: str
    stdout: Path
    metrics_dir: Path


@pytest.fixture(name="server", scope="module")
def _server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The Dockerfile's CMD, from the repository root, with two workers."""
    directory = tmp_path_factory.mktemp("server")
    metrics_dir = directory / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / STALE_METRICS_FILE).write_bytes(b"left by an earlier run")
    port = free_port()
    bin_dir = Path(sys.executable).parent
    environ = {
        **{name: value for name, value in os.environ.items() if not name.startswith("OTP_")},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "OTP_ENV": "development",
        "OTP_REDIS_URL": redis_url,
        "OTP_REDIS_PREFIX": "p" + secrets.token_hex(6),
        "OTP_PEPPER": PEPPER.decode(),
        "OTP_API_KEYS": json.dumps(api_keys_json()),
        "OTP_BIND": f"127.0.0.1:{port}",
        "OTP_WORKERS": "2",
        "OTP_THREADS": "4",
    }
    stdout = directory / "stdout.log"
    with stdout.open("wb") as sink:
        process = subprocess.Popen(
            dockerfile_json_array("CMD"), cwd=REPO, env=environ, stdout=sink, stderr=sink
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(f"{base}/livez", timeout=1).ok, 30, "the server is up")
        yield Server(base, stdout, metrics_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def livez_count(scrape: str) -> float:
    """The ``otp_http_requests_total`` of ``GET /livez`` 200 in a scrape."""
    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            labels = {"method": "GET", "route": "/livez", "status": "200"}
            if sample.name == "otp_http_requests_total" and sample.labels == labels:
                return sample.value
    return 0.0


def test_metrics_merge_every_worker(server: Server) -> None:
    """Whichever worker answers the scrape, it counts the requests of both."""
    before = livez_count(requests.get(f"{server.base}/metrics", timeout=5).text)
    for _ in range(30):
        requests.get(f"{server.base}/livez", timeout=5)  # a new connection each: any worker
    scrapes = [requests.get(f"{server.base}/metrics", timeout=5).text for _ in range(6)]
    assert [before + 30] * 6 == [livez_count(scrape) for scrape in scrapes]


def _metrics_files(server: Server) -> tuple[list[str], set[str]]:
    files = [path.name for path in server.metrics_dir.iterdir()]
    return files, {name.rsplit("_", 1)[1].removesuffix(".db") for name in files}


def test_each_worker_writes_its_own_metrics_files(server: Server) -> None:
    """Both workers run in multiprocess mode; the files of an earlier run were removed."""
    deadline = time.monotonic() + 15
    files, pids = _metrics_files(server)
    # A worker writes its files once it has counted something; the kernel, not the test, picks
    # which worker takes a new connection, so ask (on new connections) until both have answered.
    while len(pids) < 2 and time.monotonic() < deadline:
        requests.get(f"{server.base}/livez", timeout=5)
        files, pids = _metrics_files(server)
    assert STALE_METRICS_FILE not in files
    assert 2 <= len(pids)


def test_every_line_on_stdout_is_json(server: Server) -> None:
    """gunicorn's own lines and the app's are JSON objects with time, level and logger."""
    requests.get(f"{server.base}/readyz", timeout=5)
    lines = [line for line in server.stdout.read_text().splitlines() if line.strip()]
    parsed: list[dict[str, Any]] = [json.loads(line) for line in lines]
    loggers = {entry["logger"] for entry in parsed}
    assert {"gunicorn.error", "otp_service.access"} <= loggers
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in parsed)


def healthcheck(base: str) -> int:
    """The exit status of the image's HEALTHCHECK command, pointed at ``base``."""
    program, *arguments = dockerfile_json_array("HEALTHCHECK")
    assert "python" == program  # the slim image has no curl
    arguments = [part.replace("http://127.0.0.1:8000", base) for part in arguments]
    completed = subprocess.run(
        [sys.executable, *arguments], capture_output=True, timeout=10, check=False
    )
    return completed.returncode


def test_the_healthcheck_passes_when_ready(server: Server) -> None:
    """The HEALTHCHECK command exits 0 against a ready server."""
    assert 0 == healthcheck(server.base)


class _NotReady(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_the_healthcheck_fails_when_not_ready() -> None:
    """The HEALTHCHECK command exits non-zero when /readyz answers 503."""
    stub = ThreadingHTTPServer(("127.0.0.1", 0), _NotReady)
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    try:
        assert 0 != healthcheck(f"http://127.0.0.1:{stub.server_address[1]}")
    finally:
        stub.shutdown()
        stub.server_close()
