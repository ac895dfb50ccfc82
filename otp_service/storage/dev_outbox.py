"""
DevOutbox: the messages the dev sender "sent", in a capped Redis list (development only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, cast

import redis

from otp_service.storage.script_store import guard

DEV_OUTBOX_KEY: Final = "{prefix}:dev:outbox"  # LIST of JSON messages, newest first, capped
DEV_OUTBOX_LENGTH: Final = 100


class DevOutbox:
    """The dev outbox of one key prefix; the dev sender writes it, the dev pages read it."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._key = DEV_OUTBOX_KEY.format(prefix=prefix)

    def push_dev_message(self, message: Mapping[str, Any]) -> None:
        """Keep a dev-sender message in the capped outbox list."""
        with guard():
            pipe = self._client.pipeline(transaction=False)
            pipe.lpush(self._key, json.dumps(message))
            pipe.ltrim(self._key, 0, DEV_OUTBOX_LENGTH - 1)
            pipe.expire(self._key, 86_400)
            pipe.execute()

    def dev_messages(self) -> list[dict[str, Any]]:
        """The dev outbox, newest first."""
        with guard():
            raw = cast(list[str], self._client.lrange(self._key, 0, DEV_OUTBOX_LENGTH - 1))
        return [json.loads(item) for item in raw]
