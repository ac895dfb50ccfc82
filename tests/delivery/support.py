"""
Helpers of the delivery tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from otp_service.delivery.twilio_sms import TwilioSmsSender

#: The ``make_twilio_sender`` fixture: ``make(api_base, **options) -> TwilioSmsSender``.
MakeTwilioSender = Callable[..., TwilioSmsSender]


class _Keeper(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self._records = records

    def emit(self, record: logging.LogRecord) -> None:
        # A copy as emitted: handlers further up (the app's redaction filter) rewrite records.
        self._records.append(logging.makeLogRecord(dict(vars(record))))


@contextmanager
def captured_logs(name: str) -> Iterator[list[logging.LogRecord]]:
    """The records the logger ``name`` emits inside the block, whatever the app's logging."""
    records: list[logging.LogRecord] = []
    handler = _Keeper(records)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
