"""
InsightsStore: hourly counters and attempt records of conversion insights (a store module: it
imports ``redis``).

Each (client, hour) has two hashes under one hash tag: its counters (``Counter.field`` → count)
and its attempt records (attempt id → a small JSON record, ``<id>:converted`` → when). Both expire
with their retention, counted from the end of their hour: memory is bounded by the retention.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, cast

from otp_service.insights.models import Attempt, Counter, hour_name, hour_of_attempt
from otp_service.storage.script_store import ScriptStore, guard

COUNTS_KEY: Final = "{prefix}:ins:{{{client}:{hour}}}:n"  # HASH Counter.field → count
ATTEMPTS_KEY: Final = "{prefix}:ins:{{{client}:{hour}}}:a"  # HASH attempt id → JSON record
CONVERTED: Final = ":converted"
SCRIPT_NAMES: Final = ("insights_record",)


class InsightsStore(ScriptStore):
    """
    The counters and attempt records, each write one Lua script (one round trip).

    Writes are never followed by ``WAIT``: a figure lost in a failover costs less than the wait.
    """

    SCRIPT_PACKAGE = "otp_service.insights"
    SCRIPT_NAMES = SCRIPT_NAMES

    def counts_key(self, client: str, hour: int) -> str:
        """The key of the counters of ``client`` in ``hour``."""
        return COUNTS_KEY.format(prefix=self.prefix, client=client, hour=hour_name(hour))

    def attempts_key(self, client: str, hour: int) -> str:
        """The key of the attempt records of ``client`` in ``hour``."""
        return ATTEMPTS_KEY.format(prefix=self.prefix, client=client, hour=hour_name(hour))

    # Writes ----------------------------------------------------------------------------------

    def add(
        self,
        client: str,
        hour: int,
        counters: Sequence[Counter],
        keep_ms: tuple[int, int],
        attempt: Attempt | None = None,
    ) -> None:
        """Add 1 to each counter; keep ``attempt``'s record (``keep_ms``: counters, records)."""
        operation = ["add", attempt.id, _record(attempt)] if attempt else ["", "", ""]
        self._write(client, hour, counters, keep_ms, operation)

    def convert(
        self,
        client: str,
        hour: int,
        counters: Sequence[Counter],
        keep_ms: tuple[int, int],
        attempt_id: str,
        converted_ms: int,
    ) -> None:
        """Add 1 to each counter and mark the attempt's record converted (if it is kept)."""
        operation = ["convert", attempt_id, converted_ms]
        self._write(client, hour, counters, keep_ms, operation)

    def _write(
        self,
        client: str,
        hour: int,
        counters: Sequence[Counter],
        keep_ms: tuple[int, int],
        operation: list[Any],
    ) -> None:
        keys = [self.counts_key(client, hour), self.attempts_key(client, hour)]
        args = [*keep_ms, *operation, *(counter.field for counter in counters)]
        # Counted after what it counts happened: a failure is logged, never the caller's.
        self._write_unread("insights_record", keys, args, required=False)

    # Reads -----------------------------------------------------------------------------------

    def counts(self, clients: Sequence[str], hours: Iterable[int]) -> Iterator[tuple[str, int]]:
        """
        Every (counter field, count) of these clients in these hours, in one round trip.

        Raises:
            StoreUnavailable: Redis failed.
        """
        keys = [self.counts_key(client, hour) for hour in hours for client in clients]
        for fields in self._hashes(keys):
            for field, count in fields.items():
                yield field, int(count)

    def attempts(self, clients: Sequence[str], hours: Iterable[int]) -> list[Attempt]:
        """
        The attempt records of these clients in these hours, in one round trip.

        Raises:
            StoreUnavailable: Redis failed.
        """
        pairs = [(client, hour) for hour in hours for client in clients]
        keys = [self.attempts_key(client, hour) for client, hour in pairs]
        found: list[Attempt] = []
        for (client, _), fields in zip(pairs, self._hashes(keys), strict=True):
            found.extend(_attempts(client, fields))
        return found

    def attempt(self, clients: Sequence[str], attempt_id: str) -> Attempt | None:
        """
        The attempt with this id, if one of ``clients`` made it and it is still kept.

        Raises:
            StoreUnavailable: Redis failed.
        """
        hour = hour_of_attempt(attempt_id)
        for attempt in self.attempts(clients, [hour]):
            if attempt.id == attempt_id:
                return attempt
        return None

    def _hashes(self, keys: Sequence[str]) -> list[dict[str, str]]:
        if not keys:
            return []
        with guard():
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            return cast(list[dict[str, str]], pipe.execute())


def _record(attempt: Attempt) -> str:
    """An attempt as kept: short names, no client (the key says it), no conversion (a field)."""
    record = {
        "v": attempt.verification_id,
        "n": attempt.send,
        "ch": attempt.channel,
        "t": attempt.created_ms,
        "to": attempt.to,
        "d": attempt.to_digest,
        "co": attempt.country,
        "p": attempt.prefix,
    }
    return json.dumps(record, separators=(",", ":"))


def _attempts(client: str, fields: dict[str, str]) -> Iterator[Attempt]:
    for attempt_id, text in fields.items():
        if attempt_id.endswith(CONVERTED):
            continue
        record = json.loads(text)
        yield Attempt(
            id=attempt_id,
            client=client,
            verification_id=record["v"],
            send=int(record["n"]),
            channel=record["ch"],
            created_ms=int(record["t"]),
            to=record["to"],
            to_digest=record["d"],
            country=record["co"],
            prefix=record["p"],
            converted_ms=int(fields.get(attempt_id + CONVERTED, 0)),
        )
