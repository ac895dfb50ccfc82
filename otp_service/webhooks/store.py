"""
WebhookStore: which endpoints answered 410 (disabled), and which messages already arrived.

Keys (``<prefix>`` is ``OTP_REDIS_PREFIX``):

- ``<prefix>:webhooks:disabled:<state id>``: hash ``disabled_ms``, ``webhook_id``; no expiry.
- ``<prefix>:webhooks:delivered:<endpoint id>:<webhook id>``: ``1`` for 3 days, longer than a
  message is retried (about 33 hours).
"""

from __future__ import annotations

from typing import Final

from otp_service.storage.script_store import ScriptStore, guard
from otp_service.storage.scripts import flag
from otp_service.webhooks.endpoints import Endpoint

DELIVERED_TTL_MS: Final = 3 * 86_400_000


class WebhookStore(ScriptStore):
    """The webhooks' own state in Redis; every change is one Lua script."""

    SCRIPT_PACKAGE = "otp_service.webhooks"
    SCRIPT_NAMES = ("disable_endpoint", "mark_delivered")

    def _disabled_key(self, endpoint: Endpoint) -> str:
        return f"{self.prefix}:webhooks:disabled:{endpoint.state_id}"

    def _delivered_key(self, endpoint: Endpoint, webhook_id: str) -> str:
        return f"{self.prefix}:webhooks:delivered:{endpoint.id}:{webhook_id}"

    def is_disabled(self, endpoint: Endpoint) -> bool:
        """
        Raises:
            StoreUnavailable: Redis failed.
        """
        with guard():
            return bool(self.client.exists(self._disabled_key(endpoint)))

    def disable(self, endpoint: Endpoint, webhook_id: str, now_ms: int) -> None:
        """Disable ``endpoint`` (it answered 410 to ``webhook_id``)."""
        key = self._disabled_key(endpoint)
        self._run("disable_endpoint", [key], [now_ms, webhook_id], flag)

    def was_delivered(self, endpoint: Endpoint, webhook_id: str) -> bool:
        """
        Raises:
            StoreUnavailable: Redis failed.
        """
        with guard():
            return bool(self.client.exists(self._delivered_key(endpoint, webhook_id)))

    def mark_delivered(self, endpoint: Endpoint, webhook_id: str) -> None:
        """Remember that ``webhook_id`` reached ``endpoint``."""
        key = self._delivered_key(endpoint, webhook_id)
        self._run("mark_delivered", [key], [DELIVERED_TTL_MS], flag)
