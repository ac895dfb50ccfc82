"""
Stoplight Prism serving Twilio's own OpenAPI document: a mock that validates every request.

Prism is installed at a pinned version into ``.tools/prism`` by ``scripts/ensure-prism`` (which
``make test`` runs); when it is missing the fixture runs that script itself. Without node and npm
the contract tests are skipped, with the reason.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from tests.servers import LOOPBACK, free_port

REPO = Path(__file__).resolve().parents[2]
#: Twilio's own document, kept in the repository (tests/contracts/twilio/README.md).
SPEC = REPO / "tests" / "contracts" / "twilio" / "twilio_api_v2010.json"
PRISM = REPO / ".tools" / "prism" / "node_modules" / ".bin" / "prism"
ENSURE_SCRIPT = REPO / "scripts" / "ensure-prism"
INSTALL_TIMEOUT_SECONDS = 300
STARTUP_TIMEOUT_SECONDS = 60


class PrismUnavailable(Exception):
    """Prism cannot run on this machine; the message says why (the reason to skip)."""


def ensure_prism() -> Path:
    """
    The Prism executable, installed first if missing.

    Raises:
        PrismUnavailable: no node or npm, no Twilio OpenAPI document, or the install failed.
    """
    if not SPEC.is_file():
        raise PrismUnavailable(f"Twilio's OpenAPI document is not at {SPEC.resolve()}")
    if shutil.which("node") is None:
        raise PrismUnavailable("node is not installed: Prism (the Twilio contract mock) needs it")
    if PRISM.exists():
        return PRISM
    if shutil.which("npm") is None:
        raise PrismUnavailable("npm is not installed: it is needed to install Prism")
    result = subprocess.run(
        ["bash", str(ENSURE_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    if not PRISM.exists():
        raise PrismUnavailable(f"installing Prism failed: {result.stderr[-2000:]}")
    return PRISM


class Prism:
    """
    ``prism mock`` on a free loopback port, for as long as the ``with`` block lasts.

    Args:
        log_path: where Prism's output goes (shown when it fails to start).
    """

    def __init__(self, executable: Path, log_path: Path) -> None:
        self.port = free_port()
        self._executable = executable
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the base URL to give the Twilio client."""
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> Prism:
        self._log = self._log_path.open("wb")
        command = [str(self._executable), "mock", "-h", LOOPBACK, "-p", str(self.port), str(SPEC)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_until_listening()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_listening(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Prism exited at start:\n{self.log_tail()}")
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=0.5).close()
            except OSError:
                time.sleep(0.1)
                continue
            return
        raise RuntimeError(
            f"Prism did not listen within {STARTUP_TIMEOUT_SECONDS} s:\n{self.log_tail()}"
        )

    def log_tail(self, characters: int = 4000) -> str:
        """The end of Prism's output."""
        return self._log_path.read_text(errors="replace")[-characters:]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
