"""The log redaction filter: destinations masked, code-like numbers blanked."""

from __future__ import annotations

import pytest

from otp_service.observability import redact


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
