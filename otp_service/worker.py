"""
``otp-service worker``: run the background jobs (webhook deliveries, expiry watches, fallback
timers), or with ``--check`` report the queues and whether any worker is alive.

The worker builds the same ``Services`` as the web app (``create_app``; nothing is served) and
hands each job to the service that owns it. ``otp-service dev`` starts one in its own process.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Any, cast

from otp_service.config.settings import ConfigError, Settings, redact_url
from otp_service.core.errors import StoreUnavailable
from otp_service.jobs import Handler, Job, JobWorker
from otp_service.services import Services
from otp_service.verify import FALL_BACK
from otp_service.webhooks import DELIVER, WATCH_EXPIRY

log = logging.getLogger(__name__)


def handlers(services: Services) -> dict[Job, Handler]:
    """Every job's handler, from the services that own them."""
    clients = {client.name: client for client in services.settings.api_keys}

    def fall_back(payload: Mapping[str, Any], attempt: int) -> None:
        client = clients.get(str(payload["client"]))
        if client is not None:  # a client removed from the configuration: nothing to do
            services.verifications.fall_back_on_time(client, payload)

    found: dict[Job, Handler] = {FALL_BACK: fall_back}
    if services.outbound is not None:
        found[DELIVER] = services.outbound.delivery.deliver
        sink = services.outbound.sink
        if sink is not None:
            found[WATCH_EXPIRY] = sink.watch_expiry
    return found


def start_worker(services: Services, threads: int) -> JobWorker:
    """
    A worker running every job of ``services`` with ``threads`` threads, started.

    Raises:
        ValueError: the services have no job queue.
    """
    if services.jobs is None:
        raise ValueError("no job queue: OTP_REDIS_URL is a Redis Cluster; set OTP_JOBS_REDIS_URL")
    worker = JobWorker(services.jobs.broker, handlers(services), threads)
    worker.start()
    return worker


def _services(settings: Settings) -> Services:
    from otp_service.app import create_app

    app = create_app(settings)
    return cast(Services, app.extensions["otp_service"])


def _settings() -> Settings | None:
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        print("configuration is not valid:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None
    if not settings.jobs_url:
        print(
            "no job queue: OTP_REDIS_URL is a Redis Cluster; set OTP_JOBS_REDIS_URL",
            file=sys.stderr,
        )
        return None
    return settings


def run_worker(threads: int) -> int:
    """Run the jobs until SIGTERM or SIGINT; jobs in hand finish, the others go back."""
    settings = _settings()
    if settings is None:
        return 1
    services = _services(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = start_worker(services, threads)
    print(
        f"otp-service worker: {threads} threads on {redact_url(settings.jobs_url)}, "
        f"jobs: {', '.join(job.name for job in handlers(services))}",
        flush=True,
    )
    stop.wait()
    worker.stop()
    return 0


def run_check(max_age_seconds: float | None) -> int:
    """
    One line per queue and the live workers; 1 when Redis fails, no worker is alive, or the
    oldest ready job waited longer than ``max_age_seconds``.
    """
    settings = _settings()
    if settings is None:
        return 1
    jobs = _services(settings).jobs
    assert jobs is not None  # noqa: S101 (settings with a jobs URL make a queue)
    try:
        rows, alive = jobs.stats(), jobs.workers_alive()
    except StoreUnavailable as error:
        print(f"jobs   FAIL  {redact_url(settings.jobs_url)}: {error}")
        return 1
    failing = alive == 0
    print(f"jobs   {'FAIL' if failing else 'ok':<6}{alive} worker(s) alive")
    for row in rows:
        late = max_age_seconds is not None and row.oldest_age_seconds > max_age_seconds
        failing = failing or late
        print(
            f"queue  {'LATE' if late else 'ok':<6}{row.queue}: {row.ready} ready, "
            f"{row.delayed} delayed, {row.running} running, {row.dead} dead, "
            f"oldest ready {row.oldest_age_seconds:.1f} s"
        )
    return 1 if failing else 0
