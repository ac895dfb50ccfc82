"""
gunicorn settings for production, read by ``gunicorn.conf.py`` (the Docker image's command) and by
``otp-service serve``.

- ``gthread`` workers: threads absorb delivery waits (Twilio and SMTP calls run inside the
  request, each with its own timeout) and argon2 releases the GIL.
- Every log line is JSON on stdout, gunicorn's own included (the app's request line replaces
  gunicorn's access log).
- A bad ``OTP_*`` configuration stops the server before any worker boots, one line per problem.
- Metrics from every worker: prometheus-client's multiprocess mode, in ``PROMETHEUS_MULTIPROC_DIR``
  (a fresh directory of this server when unset), emptied at start, with dead workers' live gauges
  dropped.
- Overridable from the environment: ``OTP_BIND``, ``OTP_WORKERS``, ``OTP_THREADS``,
  ``OTP_FORWARDED_ALLOW_IPS``, ``PROMETHEUS_MULTIPROC_DIR``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

from otp_service.server import gunicorn_defaults

__all__ = [
    "accesslog",
    "bind",
    "child_exit",
    "control_socket_disable",
    "errorlog",
    "forwarded_allow_ips",
    "graceful_timeout",
    "keepalive",
    "logconfig_dict",
    "logger_class",
    "loglevel",
    "max_requests",
    "max_requests_jitter",
    "on_exit",
    "on_starting",
    "preload_app",
    "threads",
    "timeout",
    "worker_class",
    "worker_tmp_dir",
    "workers",
]

bind = gunicorn_defaults.bind()
workers = gunicorn_defaults.workers()
worker_class = gunicorn_defaults.WORKER_CLASS
threads = gunicorn_defaults.threads()
# A request waits at most for Redis (2 s) and a delivery (10 s): a worker silent for 30 s is stuck.
timeout = 30
# On SIGTERM, stop accepting and let requests in flight finish (a delivery can take 10 s). Give the
# container at least this long to stop (Docker: `docker stop -t 30`; Kubernetes' default is 30 s).
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then (bounds a slow leak); the jitter keeps them from restarting at once.
# A recycle re-imports the app (about 0.65 s of CPU): at a flood of 2000 requests/s, 10 000 cost
# 3-6 % of the CPU (bench/README.md).
max_requests = 100_000
max_requests_jitter = 10_000
# The app must not be imported before the fork: each worker makes its own Redis connections and
# writes its own metrics files.
preload_app = False
# Heartbeat files in memory: on a container's overlay filesystem they can stall a worker.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 (not a temp file)
forwarded_allow_ips = os.environ.get("OTP_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn >= 25.1 opens a control socket under $HOME: one path shared by every server of a user,
# and a home the image's user does not have. Nothing here uses it.
control_socket_disable = True

accesslog = None  # the app writes one canonical JSON line per request instead
logger_class = "otp_service.server.gunicorn_logging.QuietAccessLogger"
errorlog = "-"
loglevel = "info"
logconfig_dict: Final[dict[str, Any]] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "otp_service.ops.logs.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        }
    },
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        # The app's canonical request line says more; drop gunicorn's (INFO) access lines.
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
}

# Set before any worker exists (workers inherit it, and prometheus-client reads it on import).
METRICS_DIR_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
# Remembers, across configuration reloads (SIGHUP), the directory this server made for itself.
_OWN_METRICS_DIR_VARIABLE: Final = "_OTP_SERVICE_OWN_METRICS_DIR"
if METRICS_DIR_VARIABLE not in os.environ:
    os.environ[METRICS_DIR_VARIABLE] = tempfile.mkdtemp(prefix="otp-service-metrics-")
    os.environ[_OWN_METRICS_DIR_VARIABLE] = os.environ[METRICS_DIR_VARIABLE]


def on_starting(server: Any) -> None:
    """
    Refuse a bad configuration before any worker boots (one line per problem, exit 1, instead of a
    traceback in every worker); empty the metrics directory: samples of an earlier run must not be
    counted again.
    """
    _refuse_a_bad_configuration()
    directory = Path(os.environ[METRICS_DIR_VARIABLE])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def _refuse_a_bad_configuration() -> None:
    from otp_service.config.settings import ConfigError, Settings
    from otp_service.console import print_problems

    try:
        Settings.from_env(os.environ)
    except ConfigError as error:
        print_problems(error)
        raise SystemExit(1) from None


def child_exit(server: Any, worker: Any) -> None:
    """Drop the live gauges of a worker that exited (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    """Remove the metrics directory this server made for itself."""
    own = os.environ.get(_OWN_METRICS_DIR_VARIABLE)
    if own:
        shutil.rmtree(own, ignore_errors=True)
