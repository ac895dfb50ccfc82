"""
ScriptStore: what every store of Lua scripts shares (a store module: imports ``redis``).

A capability's store subclasses it, names its scripts (``<package>/lua/<name>.lua``) and runs each
state change as one of them; every ``redis.RedisError`` becomes ``StoreUnavailable`` (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any, TypeVar

import redis
from redis.commands.core import Script

from otp_service.core.errors import StoreUnavailable
from otp_service.storage.scripts import Durability, ScriptRunner

_T = TypeVar("_T")


@contextmanager
def guard() -> Iterator[None]:
    """Turn every Redis failure into ``StoreUnavailable`` (fail closed)."""
    try:
        yield
    except redis.RedisError as error:
        raise StoreUnavailable("Redis is unavailable") from error


def register_scripts(client: redis.Redis, package: str, names: Sequence[str]) -> dict[str, Script]:
    """The ``lua/<name>.lua`` scripts of ``package``, registered with ``client`` (no I/O)."""
    lua = resources.files(package) / "lua"
    return {
        name: client.register_script((lua / f"{name}.lua").read_text(encoding="utf-8"))
        for name in names
    }


def hash_fields(flat: Sequence[str]) -> dict[str, str]:
    """A hash's fields from the flat ``[field, value, ...]`` list a script returns."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


class ScriptStore:
    """
    A store whose every state change is one Lua script, followed by ``WAIT`` when asked.

    Args:
        client: a ``redis.Redis`` (or cluster) client created with ``decode_responses=True``.
        prefix: the prefix of every key (``OTP_REDIS_PREFIX``).
        durability: how many replicas acknowledge each script's writes (none by default).
        server_time: scripts read Redis's clock (``TIME``) instead of the caller's.
    """

    #: The package whose ``lua/`` folder holds the scripts, and their names.
    SCRIPT_PACKAGE: str = ""
    SCRIPT_NAMES: Sequence[str] = ()

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        durability: Durability | None = None,
        *,
        server_time: bool = False,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.durability = durability or Durability()
        self.server_time = server_time
        self._runner = ScriptRunner(client, self.durability)
        self._scripts = register_scripts(client, self.SCRIPT_PACKAGE, self.SCRIPT_NAMES)

    def _now(self, now_ms: int) -> int | str:
        """The time a script is given: the caller's, or '' for Redis's own clock (TIME)."""
        return "" if self.server_time else now_ms

    def _clock_mode(self) -> str:
        """What a ``create`` script is told: 'server' moves the record's times onto TIME."""
        return "server" if self.server_time else ""

    def _run(self, name: str, keys: list[str], args: list[Any], parse: Callable[[Any], _T]) -> _T:
        return self._runner.run(name, self._scripts[name], keys, args, parse)
