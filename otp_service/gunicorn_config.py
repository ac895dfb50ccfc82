"""
gunicorn settings for production (read by ``gunicorn.conf.py`` and ``otp-service serve``).

Threads absorb delivery waits (Twilio/SMTP calls run inside the request); argon2 releases the GIL.
Overridable from the environment: ``OTP_WORKERS``, ``OTP_THREADS``, ``OTP_BIND``.
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("OTP_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("OTP_WORKERS", str(multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("OTP_THREADS", "8"))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 10_000
max_requests_jitter = 1_000
accesslog = None  # the app writes one canonical JSON line per request instead
errorlog = "-"
loglevel = "info"
forwarded_allow_ips = os.environ.get("OTP_FORWARDED_ALLOW_IPS", "127.0.0.1")
