"""
Logging: JSON lines on stdout, with a filter that masks codes and destinations.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Final

from otp_service.core.models import mask_destination

_STANDARD_ATTRIBUTES: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys() | {"message", "asctime"}
)
_PHONE: Final = re.compile(r"\+\d{7,15}")
_EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Not after "+": that is the visible head of an already masked number (+1415*****00).
_DIGIT_RUN: Final = re.compile(r"(?<![\w.+])\d{4,10}(?![\w.])")
#: A traceback's code location (``File "...", line 123, in name``): code, not data.
_CODE_LOCATION: Final = re.compile(r'^\s*File "[^"\n]*", line \d+(, in \S+)?$')


def redact(text: str) -> str:
    """Mask phone numbers and emails, and blank runs of 4-10 digits that could be codes."""
    text = _PHONE.sub(lambda match: mask_destination(match.group()), text)
    text = _EMAIL.sub(lambda match: mask_destination(match.group()), text)
    return _DIGIT_RUN.sub("[redacted]", text)


def redact_traceback(text: str) -> str:
    """``redact`` every line of a traceback except its code locations (their line numbers)."""
    return "\n".join(
        line if _CODE_LOCATION.match(line) else redact(line) for line in text.split("\n")
    )


class RedactionFilter(logging.Filter):
    """Redacts every record, except the dev sender's (development only, by design loud)."""

    def __init__(self, allow_dev_delivery: bool) -> None:
        super().__init__()
        self._allow_dev_delivery = allow_dev_delivery

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with destinations and code-like numbers masked."""
        if self._allow_dev_delivery and getattr(record, "dev_delivery", False):
            return True
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_traceback(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


def configure_logging(level: str, *, allow_dev_delivery: bool) -> None:
    """Send the service's logs to stdout as JSON lines, redacted. Idempotent."""
    root = logging.getLogger("otp_service")
    for handler in list(root.handlers):
        if getattr(handler, "otp_service_handler", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.otp_service_handler = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactionFilter(allow_dev_delivery))
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    # Twilio's client logs whole requests at DEBUG/INFO (bodies carry codes): keep it quiet.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
