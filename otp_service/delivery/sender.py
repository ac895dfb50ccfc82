"""
The ``Sender`` protocol that every channel adapter implements.

Adapters take their vendor client as an argument and translate every vendor failure into one
``DeliveryFailed(retryable=...)``.
"""

from __future__ import annotations

from typing import Protocol

from otp_service.core.models import OutboundMessage, Receipt


class Sender(Protocol):
    """Hands one rendered message to a provider."""

    provider: str

    def send(self, message: OutboundMessage) -> Receipt:
        """
        Deliver ``message``.

        Raises:
            DeliveryFailed: the provider refused it or could not be reached.
            InvalidDestination: the provider says the destination cannot receive it.
        """
        ...
