"""
A local SMTP sink for the benchmarks (aiosmtpd): it keeps the newest message per recipient, and
reads the code out of a message.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import threading
import time
from typing import Any


class Sink:
    """An aiosmtpd handler keeping the newest message body per recipient."""

    def __init__(self) -> None:
        self.newest: dict[str, str] = {}
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message (aiosmtpd's hook)."""
        body = envelope.content.decode("utf-8", "replace")
        with self.arrived:
            for recipient in envelope.rcpt_tos:
                self.newest[recipient.lower()] = body
            self.arrived.notify_all()
        return "250 OK"

    def take(self, recipient: str, timeout: float = 10.0) -> str:
        """The next message to ``recipient`` (waits for it), removed."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while recipient not in self.newest:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no message to {recipient}")
                self.arrived.wait(left)
            return self.newest.pop(recipient)


def code_of(message: str) -> str:
    """The code in a message's text: its first run of 6 digits (both services send 6)."""
    parsed = email.message_from_string(message, policy=email.policy.default)
    part = parsed.get_body(preferencelist=("plain", "html"))
    text = part.get_content() if isinstance(part, email.message.EmailMessage) else message
    found = re.search(r"\b(\d{6})\b", text)
    if found is None:
        raise ValueError(f"no code in {text[:200]!r}")
    return found.group(1)
