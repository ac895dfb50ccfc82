"""The log redaction filter: destinations masked, code-like numbers blanked."""

from __future__ import annotations

import io
import logging

import pytest

from otp_service.ops.logs import RedactionFilter, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sent to +14155550100", "sent to +1415*****00"),
        ("mail for alice@example.com", "mail for a***@example.com"),
        ("code 275961 sent", "code [redacted] sent"),
        ("already masked +1415*****00", "already masked +1415*****00"),
        ("id vf_4b3286a6d247c89354c6d91b4e3f3673", "id vf_4b3286a6d247c89354c6d91b4e3f3673"),
        ("latency 12.5 ms, status 200", "latency 12.5 ms, status 200"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    """Phones and emails are masked once; codes blanked; ids, statuses and decimals kept."""
    assert expected == redact(text)


def _fail() -> None:
    raise ValueError("code 275961 for +14155550100")


def test_tracebacks_keep_their_line_numbers() -> None:
    """Code locations are not secrets: `line 123` stays; the values in the message do not."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactionFilter(allow_dev_delivery=False))
    logger = logging.getLogger("otp_service.test_tracebacks")
    logger.addHandler(handler)
    try:
        try:
            _fail()
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    raised_at = _fail.__code__.co_firstlineno + 1
    assert f'test_observability.py", line {raised_at}, in _fail' in logged
    assert "ValueError: code [redacted] for +1415*****00" in logged
    assert "275961" not in logged
