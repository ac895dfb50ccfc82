"""What Redis holds: only hashes of codes, destinations only where the design names them."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from importlib import resources

import redis

from otp_service.core.models import destination_digest, key_name_key
from otp_service.verify.store import SCRIPT_NAMES, RedisStore, id_of_index
from tests.support import EMAIL, NAME_KEY, PHONE, Api, auth


def _dump(client: redis.Redis, prefix: str) -> dict[str, object]:
    """Every key under the test prefix with its value, whatever its type."""
    dump: dict[str, object] = {}
    for key in client.scan_iter(match=f"{prefix}:*"):
        kind = client.type(key)
        if kind == "hash":
            dump[key] = client.hgetall(key)
        elif kind == "string":
            dump[key] = client.get(key)
        elif kind == "list":
            dump[key] = client.lrange(key, 0, -1)
        else:
            dump[key] = f"<{kind}>"
    return dump


def test_redis_never_holds_a_code_or_a_destination_outside_named_fields(
    api: Api, redis_client: redis.Redis, prefix: str
) -> None:
    """Invariant 4: after full flows, no key or value holds a code; `to` only in the hash field."""
    codes = []
    for to, channel in ((PHONE, "sms"), (EMAIL, "email")):
        verification_id, code = api.started(to, channel)
        codes.append(code)
        api.check(verification_id, f"{(int(code) + 1) % 10**6:06d}")
        api.check(verification_id, code)
    dump = _dump(redis_client, prefix)
    assert dump, "the flows should have left keys behind"
    for key, value in dump.items():
        for code in codes:
            assert code not in key
        for to in (PHONE, EMAIL):
            assert to not in key
        if isinstance(value, dict):
            for field, stored in value.items():
                assert all(code not in stored for code in codes), (key, field)
                if field not in ("to", "t"):  # the destination field, format 1 or 2
                    assert PHONE not in stored, (key, field)
                    assert EMAIL not in stored, (key, field)
        else:
            text = str(value)
            assert all(code not in text for code in codes), key
            assert PHONE not in text, key
            assert EMAIL not in text, key


def test_code_hash_is_argon2id(api: Api, redis_client: redis.Redis, prefix: str) -> None:
    """The stored hash is an argon2id encoding, and the destination index a digest of `to`
    holding the verification's 128 bits."""
    verification_id, _ = api.started()
    stored: dict[str, str] = redis_client.hgetall(  # type: ignore[assignment]
        f"{prefix}:vf:{{{verification_id}}}"
    )
    assert stored["x"].startswith("m=")  # argon2id v19, its constant head not stored
    digest = destination_digest(PHONE, NAME_KEY)
    index = redis_client.get(f"{prefix}:dest:{{acme:sms:{digest}}}")
    assert (22, verification_id) == (len(str(index)), id_of_index(str(index)))


def test_key_names_hide_destinations_under_a_server_key(
    api: Api, redis_client: redis.Redis, prefix: str
) -> None:
    """No key name holds the destination or any part of its plain SHA-256 (reversible by trying
    every number); the HMAC under the pepper's key depends on the pepper."""
    api.started()
    names = "\n".join(str(name) for name in redis_client.scan_iter(match=f"{prefix}*"))
    names += "\n".join(str(name) for name in redis_client.scan_iter(match="*rl*"))
    plain = hashlib.sha256(PHONE.encode()).digest()[:16]
    for leak in (PHONE, PHONE.lstrip("+"), base64.urlsafe_b64encode(plain).decode().rstrip("=")):
        assert leak not in names
    assert destination_digest(PHONE, NAME_KEY) in names
    other = key_name_key(b"another-pepper-0123456789-abcdefghij")
    assert destination_digest(PHONE, NAME_KEY) != destination_digest(PHONE, other)


def test_keys_expire_with_the_verification(
    api: Api, redis_client: redis.Redis, prefix: str
) -> None:
    """Every key of a verification has a TTL (nothing lives forever)."""
    api.started()
    for key in redis_client.scan_iter(match=f"{prefix}:*"):
        assert int(redis_client.pttl(key)) > 0, key  # type: ignore[arg-type]


def test_every_script_loads_from_the_installed_package(redis_client: redis.Redis) -> None:
    """Each Lua script ships in the package and Redis accepts it."""
    lua = resources.files("otp_service.verify") / "lua"
    for name in SCRIPT_NAMES:
        source = (lua / f"{name}.lua").read_text(encoding="utf-8")
        assert redis_client.script_load(source)
    store = RedisStore(redis_client, "unused", name_key=NAME_KEY)
    store.load_scripts()
    assert [] == store.missing_scripts()


def _round_trips(redis_url: str, action: Callable[[], object]) -> list[str]:
    """Commands sent to Redis during ``action`` (by MONITOR; those run inside scripts excluded)."""
    watcher = redis.Redis.from_url(redis_url, decode_responses=True)
    marker = redis.Redis.from_url(redis_url, decode_responses=True)
    commands: list[str] = []
    with watcher.monitor() as monitor:  # type: ignore[no-untyped-call]
        marker.echo("begin-round-trips")
        action()
        marker.echo("end-round-trips")
        started = False
        for entry in monitor.listen():
            command = entry["command"]
            if command == "ECHO begin-round-trips":
                started = True
            elif command == "ECHO end-round-trips":
                break
            elif started and entry.get("client_type") != "lua":
                commands.append(command.split()[0].upper())
    watcher.close()
    marker.close()
    return commands


def test_a_check_costs_three_round_trips(
    api: Api, redis_client: redis.Redis, redis_url: str
) -> None:
    """A right check by id is 2 Redis round trips (reserve_attempt, approve), and 1 more counts
    the approval for the conversion figures: all EVALSHA."""
    verification_id, code = api.started()
    RedisStore(
        redis_client, "unused", name_key=NAME_KEY
    ).load_scripts()  # as /readyz does: no NOSCRIPT round trip
    sent = _round_trips(redis_url, lambda: api.check(verification_id, code))
    assert ["EVALSHA", "EVALSHA", "EVALSHA"] == sent


def test_a_wrong_check_costs_two_round_trips(
    api: Api, redis_client: redis.Redis, redis_url: str
) -> None:
    """A wrong code: reserve_attempt, then one script counts it in the destination's failure
    windows and its run of wrong codes (and locks it when a window fills): 2 round trips."""
    verification_id, code = api.started()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    api.check(verification_id, wrong)  # loads the scripts
    sent = _round_trips(redis_url, lambda: api.check(verification_id, wrong))
    assert ["EVALSHA"] * 2 == sent


def test_get_is_one_round_trip(api: Api, redis_url: str) -> None:
    """GET of a verification reads one hash."""
    verification_id, _ = api.started()
    path = f"/v1/verifications/{verification_id}"
    assert ["HGETALL"] == _round_trips(redis_url, lambda: api.http.get(path, headers=auth()))
