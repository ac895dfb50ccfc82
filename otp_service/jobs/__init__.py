"""
Background jobs on Dramatiq's Redis broker (docs/architecture.md): the queue senders use, the
worker that runs jobs, and the figures of the queues. The only package that imports ``dramatiq``.
"""

from __future__ import annotations

from otp_service.jobs.broker import build_broker
from otp_service.jobs.queue import Job, JobQueue, QueueStats
from otp_service.jobs.worker import GiveUp, Handler, JobWorker, RetryLater

__all__ = [
    "GiveUp",
    "Handler",
    "Job",
    "JobQueue",
    "JobWorker",
    "QueueStats",
    "RetryLater",
    "build_broker",
]
