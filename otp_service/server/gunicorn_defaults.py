"""
The service's own gunicorn defaults (not gunicorn's), each overridable from the environment.

Read by ``gunicorn_config.py`` and shown by ``otp-service serve --help``; importing this module has
no side effects.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping
from typing import Final

DEFAULT_BIND: Final = "0.0.0.0:8000"
DEFAULT_THREADS: Final = 8
WORKER_CLASS: Final = "gthread"


def bind(environ: Mapping[str, str] = os.environ) -> str:
    """``OTP_BIND``, else every interface on port 8000."""
    return environ.get("OTP_BIND", DEFAULT_BIND)


def workers(environ: Mapping[str, str] = os.environ) -> int:
    """``OTP_WORKERS``, else one worker per CPU."""
    return int(environ.get("OTP_WORKERS", str(multiprocessing.cpu_count())))


def threads(environ: Mapping[str, str] = os.environ) -> int:
    """``OTP_THREADS``, else 8 threads per worker."""
    return int(environ.get("OTP_THREADS", str(DEFAULT_THREADS)))
