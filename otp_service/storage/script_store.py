"""
ScriptStore: what every store of Lua scripts shares (a store module: imports ``redis``).

A capability's store subclasses it, names its scripts (``<package>/lua/<name>.lua``) and runs each
state change as one of them; every ``redis.RedisError`` becomes ``StoreUnavailable`` (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from importlib import resources
from typing import Any, TypeVar, cast

import redis
from redis.commands.core import Script

from otp_service.core.errors import StoreUnavailable
from otp_service.storage.scripts import Durability, ScriptRunner, is_cluster
from otp_service.storage.write_batch import batched_writes

_T = TypeVar("_T")
_S = TypeVar("_S", bound="ScriptStore")


@contextmanager
def guard() -> Iterator[None]:
    """Turn every Redis failure into ``StoreUnavailable`` (fail closed)."""
    try:
        yield
    except redis.RedisError as error:
        raise StoreUnavailable("Redis is unavailable") from error


def lua_source(package: str, name: str) -> str:
    """The text of ``package``'s ``lua/<name>.lua``."""
    return (resources.files(package) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def lua_function(package: str, name: str) -> str:
    """``package``'s script ``name`` as a local Lua function of (KEYS, ARGV), named ``name``, for
    a script composed of several (each keeps its own KEYS and ARGV)."""
    return f"local function {name}(KEYS, ARGV)\n{lua_source(package, name)}\nend\n"


def register_scripts(
    client: redis.Redis, package: str, names: Sequence[str], prelude: str = ""
) -> dict[str, Script]:
    """
    The ``lua/<name>.lua`` scripts of ``package``, each after ``prelude`` (Lua they share),
    registered with ``client`` (no I/O).
    """
    return {name: client.register_script(prelude + lua_source(package, name)) for name in names}


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
        name_key: the secret key names hash destinations and subjects under (``key_name_key``).
        server_time: scripts read Redis's clock (``TIME``) instead of the caller's.
    """

    #: The package whose ``lua/`` folder holds the scripts, and their names.
    SCRIPT_PACKAGE: str = ""
    SCRIPT_NAMES: Sequence[str] = ()

    def script_prelude(self) -> str:
        """Lua that every script of this store starts with (none by default)."""
        return ""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        durability: Durability | None = None,
        *,
        name_key: bytes,
        server_time: bool = False,
    ) -> None:
        self.client = client
        self._name_key = name_key
        self.prefix = prefix
        self.durability = durability or Durability()
        self.server_time = server_time
        self._runner = ScriptRunner(client, self.durability)
        self._scripts = register_scripts(
            client, self.SCRIPT_PACKAGE, self.SCRIPT_NAMES, self.script_prelude()
        )

    def _now(self, now_ms: int) -> int | str:
        """The time a script is given: the caller's, or '' for Redis's own clock (TIME)."""
        return "" if self.server_time else now_ms

    def beside(self, kind: type[_S]) -> _S:
        """A store of another kind on the same Redis, with this one's prefix, durability, key
        and clock."""
        return kind(
            self.client,
            self.prefix,
            self.durability,
            name_key=self._name_key,
            server_time=self.server_time,
        )

    def script_now(self, now_ms: int) -> int | str:
        """The time a script of another store that reads this store's keys is given."""
        return self._now(now_ms)

    def _clock_mode(self) -> str:
        """What a ``create`` script is told: 'server' moves the record's times onto TIME."""
        return "server" if self.server_time else ""

    def _run(self, name: str, keys: list[str], args: list[Any], parse: Callable[[Any], _T]) -> _T:
        return self._runner.run(name, self._scripts[name], keys, args, parse)

    def _write_unread(self, name: str, keys: list[str], args: list[Any], *, required: bool) -> None:
        """Run a script whose reply nobody reads; in an open batch, with the batch's writes."""
        self._runner.write(name, self._scripts[name], keys, args, required=required)

    def batched_writes(self) -> AbstractContextManager[None]:
        """Send the unread writes made inside on this store's Redis in one round trip."""
        return batched_writes(self.client, is_cluster(self.client))

    # Health ----------------------------------------------------------------------------------

    def ping(self) -> None:
        """
        Raises:
            StoreUnavailable: Redis does not answer.
        """
        with guard():
            self.client.ping()

    def server_time_ms(self) -> int:
        """
        Redis's clock, in milliseconds since the epoch.

        Raises:
            StoreUnavailable: Redis does not answer.
        """
        with guard():
            seconds, microseconds = cast(tuple[int, int], self.client.time())
        return seconds * 1000 + microseconds // 1000

    def replication(self) -> list[tuple[str, int]] | None:
        """
        ``(role, connected replicas)`` of each master the service writes to (every master of a
        Cluster); None when Redis refuses ``INFO`` (a managed Redis may).

        Raises:
            StoreUnavailable: Redis does not answer.
        """
        with guard():
            try:
                if hasattr(self.client, "node_client"):  # a Cluster: ask every master
                    replies = self.client.info("replication", target_nodes="primaries")
                    infos = list(cast(dict[str, dict[str, Any]], replies).values())
                else:
                    infos = [cast(dict[str, Any], self.client.info("replication"))]
            except redis.ResponseError:
                return None
        return [(str(info["role"]), int(info.get("connected_slaves", 0))) for info in infos]

    def missing_scripts(self) -> list[str]:
        """The names of scripts Redis does not have cached (they load on first use)."""
        with guard():
            shas = [script.sha for script in self._scripts.values()]
            loaded = cast(list[bool], self.client.script_exists(*shas))
        return [name for name, ok in zip(self._scripts, loaded, strict=True) if not ok]

    def load_scripts(self) -> None:
        """Load every script into Redis's script cache."""
        with guard():
            for script in self._scripts.values():
                self.client.script_load(script.script)
