"""
The job queue's figures as Prometheus gauges, read from Redis at each scrape.

The queues live in Redis, so any instance of the service reports them whole, whichever workers
run the jobs: ready and delayed jobs, jobs in a worker's hands, dead-lettered (failed) jobs, and
the age of the oldest ready job. A scrape while Redis is down reports no queue sample (and counts
a Redis error) rather than failing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from otp_service.core.errors import StoreUnavailable
from otp_service.jobs import QueueStats

log = logging.getLogger(__name__)


class QueueCollector(Collector):
    """Gauges of every job queue, from ``stats`` (``JobQueue.stats``)."""

    def __init__(
        self, stats: Callable[[], Sequence[QueueStats]], on_error: Callable[[], None]
    ) -> None:
        self._stats = stats
        self._on_error = on_error

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges, labelled by queue."""
        try:
            rows = self._stats()
        except StoreUnavailable:
            log.warning("job queue figures unavailable: Redis failed")
            self._on_error()
            return
        families = {
            "ready": GaugeMetricFamily(
                "otp_jobs_ready", "Jobs ready to run, by queue (the queue depth).", labels=["queue"]
            ),
            "delayed": GaugeMetricFamily(
                "otp_jobs_delayed",
                "Jobs waiting for their time (retries, timers), by queue.",
                labels=["queue"],
            ),
            "running": GaugeMetricFamily(
                "otp_jobs_running", "Jobs a worker has taken and not finished.", labels=["queue"]
            ),
            "dead": GaugeMetricFamily(
                "otp_jobs_dead",
                "Jobs that failed for good (dead-lettered, kept 7 days), by queue.",
                labels=["queue"],
            ),
            "oldest_age_seconds": GaugeMetricFamily(
                "otp_jobs_oldest_age_seconds",
                "How long the oldest ready job has waited since it was due, by queue.",
                labels=["queue"],
            ),
        }
        for row in rows:
            for field, family in families.items():
                family.add_metric([row.queue], float(getattr(row, field)))
        yield from families.values()
