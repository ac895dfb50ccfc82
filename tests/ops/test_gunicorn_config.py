"""
The shipped gunicorn configuration's hooks for prometheus-client's multiprocess mode.

Imported with ``PROMETHEUS_MULTIPROC_DIR`` already set (to a temporary directory), so importing it
changes nothing in this process's environment.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest


@pytest.fixture(name="config")
def _config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.delenv("_OTP_SERVICE_OWN_METRICS_DIR", raising=False)
    return importlib.import_module("otp_service.server.gunicorn_config")


def test_starting_empties_the_metrics_directory(
    config: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Samples of an earlier run are removed before the workers start."""
    monkeypatch.setenv("OTP_ENV", "development")
    monkeypatch.setenv("OTP_REDIS_URL", "redis://127.0.0.1:1/0")  # checked, never reached
    (tmp_path / "counter_4242.db").write_bytes(b"old")
    (tmp_path / "keep.txt").write_text("not a metrics file")
    config.on_starting(SimpleNamespace())
    assert ["keep.txt"] == sorted(path.name for path in tmp_path.iterdir())


def test_a_dead_workers_live_gauges_are_dropped(config: ModuleType, tmp_path: Path) -> None:
    """A worker's exit removes its live gauges; its counters still count."""
    for name in ("gauge_livesum_4242.db", "counter_4242.db", "gauge_livesum_4343.db"):
        (tmp_path / name).write_bytes(b"")
    config.child_exit(SimpleNamespace(), SimpleNamespace(pid=4242))
    assert ["counter_4242.db", "gauge_livesum_4343.db"] == sorted(
        p.name for p in tmp_path.iterdir()
    )


def test_exit_keeps_a_directory_the_operator_gave(config: ModuleType, tmp_path: Path) -> None:
    """Only a directory the server made for itself is removed when it exits."""
    config.on_exit(SimpleNamespace())
    assert tmp_path.is_dir()


def test_exit_removes_the_directory_it_made(
    config: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's own directory is gone after it exits."""
    own = tmp_path / "own"
    own.mkdir()
    monkeypatch.setenv("_OTP_SERVICE_OWN_METRICS_DIR", str(own))
    config.on_exit(SimpleNamespace())
    assert not own.exists()


def test_workers_are_threaded_and_recycled_with_jitter(config: ModuleType) -> None:
    """gthread workers, recycled after a jittered number of requests, never preloaded."""
    assert ("gthread", False) == (config.worker_class, config.preload_app)
    assert 0 < config.max_requests_jitter < config.max_requests
    assert 0 < config.graceful_timeout < config.timeout


def test_starting_refuses_a_bad_configuration(
    config: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No worker boots on a configuration the app would refuse: the problems, then exit 1."""
    monkeypatch.setenv("OTP_ENV", "development")
    monkeypatch.setenv("OTP_REDIS_URL", "127.0.0.1:6379")
    with pytest.raises(SystemExit) as raised:
        config.on_starting(SimpleNamespace())
    assert 1 == raised.value.code
    problems = capsys.readouterr().err.splitlines()
    assert "configuration is not valid:" == problems[0]
    assert problems[1].startswith("  - OTP_REDIS_URL must start with one of redis://")
