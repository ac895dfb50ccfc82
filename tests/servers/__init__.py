"""
Real servers the delivery tests talk to, all on 127.0.0.1: Prism (Twilio's OpenAPI contract), a
recording Twilio double, aiosmtpd, and a server that accepts connections and never answers.
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on at the moment (connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port
