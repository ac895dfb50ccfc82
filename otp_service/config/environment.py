"""
EnvironmentReader: reads ``OTP_*`` values, collecting every problem instead of stopping at the
first. Each secret may also come from a file named by ``OTP_<NAME>_FILE``.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from phonenumbers import SUPPORTED_REGIONS

from otp_service.abuse import parse_limits
from otp_service.config.clients import (
    TwilioVerifyAccount,
    parse_clients,
    parse_twilio_verify_accounts,
)
from otp_service.config.jobs import parse_webhooks
from otp_service.core.ip_addresses import DEFAULT_TRUSTED_PROXY_CIDRS, parse_networks
from otp_service.core.models import DEFAULT_LOCKOUT_SCHEDULE, Channel, Client, Policy
from otp_service.webhooks import Endpoint

_T = TypeVar("_T")
MIN_PEPPER_BYTES: Final = 32
_DURATION: Final = re.compile(r"([0-9]{1,7})([smhd])")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_E164_PREFIX: Final = re.compile(r"\+[1-9][0-9]{0,14}")
TOTP_KEY_BYTES: Final = 32


class EnvironmentReader:
    """Typed readers of ``OTP_*`` variables; ``problems`` lists what was wrong with them."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def raw(self, name: str, *, secret: bool = False) -> str | None:
        variable = f"OTP_{name.upper()}"
        file_variable = f"{variable}_FILE"
        if secret and file_variable in self.environ:
            try:
                return Path(self.environ[file_variable]).read_text(encoding="utf-8").strip()
            except OSError as error:
                self.problems.append(f"{file_variable} cannot be read ({error.strerror})")
                return None
        value = self.environ.get(variable)
        return value if value not in (None, "") else None

    def typed(self, name: str, default: _T, convert: Callable[[str], _T], what: str) -> _T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return convert(value)
        except ValueError:
            self.problems.append(f"OTP_{name.upper()} must be {what} (got {value!r})")
            return default

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.typed(name, default, int, "an integer")
        if not low <= value <= high:
            self.problems.append(
                f"OTP_{name.upper()} must be between {low} and {high} (got {value})"
            )
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.raw(name) or default
        if value not in allowed:
            self.problems.append(
                f"OTP_{name.upper()} must be one of {', '.join(allowed)} (got {value!r})"
            )
        return value

    def limit(self, name: str, default: str) -> str:
        value = self.raw(name) or default
        try:
            parse_limits(value)
        except ValueError:
            self.problems.append(
                f"OTP_{name.upper()} must be rate limits like '5/10minutes;10/day' (got {value!r})"
            )
        return value

    def countries(self, name: str) -> frozenset[str]:
        codes = frozenset(c.strip().upper() for c in (self.raw(name) or "").split(",") if c.strip())
        unknown = sorted(code for code in codes if code not in SUPPORTED_REGIONS)
        if unknown:
            self.problems.append(f"OTP_{name.upper()} has unknown ISO codes: {', '.join(unknown)}")
        return codes

    def safe_list(self, name: str) -> tuple[str, ...]:
        """Comma-separated E.164 numbers or prefixes (``+4477009``)."""
        found = tuple(e.strip() for e in (self.raw(name) or "").split(",") if e.strip())
        bad = [entry for entry in found if not _E164_PREFIX.fullmatch(entry)]
        if bad:
            self.problems.append(
                f"OTP_{name.upper()} must be E.164 numbers or prefixes like +4477009 "
                f"(got {', '.join(map(repr, bad))})"
            )
        return tuple(entry for entry in found if entry not in bad)

    def origins(self, name: str) -> tuple[str, ...]:
        """Comma-separated web origins (``scheme://host[:port]``, no path), as given."""
        found = tuple(o.strip().rstrip("/") for o in (self.raw(name) or "").split(",") if o.strip())
        for origin in found:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
                self.problems.append(
                    f"OTP_{name.upper()} must be origins like https://example.com (got {origin!r})"
                )
        return found

    def cidrs(self, name: str) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return DEFAULT_TRUSTED_PROXY_CIDRS
        blocks = tuple(block.strip() for block in value.split(",") if block.strip())
        try:
            parse_networks(blocks)
        except ValueError as error:
            self.problems.append(f"OTP_{name.upper()} must be CIDR blocks ({error})")
            return DEFAULT_TRUSTED_PROXY_CIDRS
        return blocks

    def country_limits(self) -> tuple[tuple[str, str], ...]:
        pairs = []
        for entry in (self.raw("sms_country_limits") or "").split(","):
            if not entry.strip():
                continue
            country, _, spec = entry.partition("=")
            country = country.strip().upper()
            try:
                parse_limits(spec.strip())
            except ValueError:
                self.problems.append(f"OTP_SMS_COUNTRY_LIMITS: bad limit for {country!r}: {spec!r}")
                continue
            if country not in SUPPORTED_REGIONS:
                self.problems.append(f"OTP_SMS_COUNTRY_LIMITS: unknown ISO code {country!r}")
            pairs.append((country, spec.strip()))
        return tuple(pairs)

    def channel_limits(self, name: str) -> tuple[tuple[Channel, str], ...]:
        """``voice=100/hour;1000/day,whatsapp=500/hour``: a limit per channel."""
        pairs = []
        for entry in (self.raw(name) or "").split(","):
            if not entry.strip():
                continue
            channel, _, spec = (part.strip() for part in entry.partition("="))
            try:
                parse_limits(spec)
                pairs.append((Channel(channel.lower()), spec))
            except ValueError:
                self.problems.append(
                    f"OTP_{name.upper()} must be channel=limits like voice=100/hour;1000/day, "
                    f"channels {', '.join(Channel)} (got {entry.strip()!r})"
                )
        return tuple(sorted(pairs))

    def durations(self, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
        """Comma-separated durations (``30s``, ``5m``, ``1h``, ``1d``) in seconds, growing."""
        value = self.raw(name)
        if value is None:
            return default
        found = [_DURATION.fullmatch(part.strip().lower()) for part in value.split(",")]
        seconds = [int(m[1]) * _UNITS[m[2]] for m in found if m is not None]
        if None in found or not seconds or seconds != sorted(seconds) or 0 in seconds:
            self.problems.append(
                f"OTP_{name.upper()} must be growing durations like 1m,5m,15m,1h,24h "
                f"(got {value!r})"
            )
            return default
        return tuple(seconds)

    def flag(self, name: str, default: bool) -> bool:
        value = (self.raw(name) or "").lower()
        if not value:
            return default
        if value not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
            self.problems.append(f"OTP_{name.upper()} must be on or off (got {value!r})")
        return value in ("1", "true", "on", "yes")

    def abuse_settings(self) -> dict[str, Any]:
        return {
            "limit_destination_sends": self.limit("limit_destination_sends", "5/10minutes;10/day"),
            "limit_client_starts": self.limit("limit_client_starts", "1000/minute"),
            "limit_ip_starts": self.limit("limit_ip_starts", "20/hour"),
            "limit_destination_failures": self.limit("limit_destination_failures", "10/hour"),
            "limit_channel_sends": self.channel_limits("limit_channel_sends"),
            "max_consecutive_failures": self.integer("max_consecutive_failures", 100, 1, 100),
            "lockout_schedule": self.durations("lockout_schedule", DEFAULT_LOCKOUT_SCHEDULE),
            "sms_allowed_countries": self.countries("sms_allowed_countries"),
            "sms_country_limit": self.limit("sms_country_limit", "5000/hour"),
            "sms_country_limits": self.country_limits(),
            "trusted_proxies": self.integer("trusted_proxies", 0, 0, 5),
            "trusted_proxy_cidrs": self.cidrs("trusted_proxy_cidrs"),
            "ipv6_prefix_length": self.integer("ipv6_prefix_length", 64, 32, 128),
            "audit_stream": self.flag("audit_stream", False),
            "audit_stream_maxlen": self.integer("audit_stream_maxlen", 100_000, 100, 10_000_000),
        }

    def pepper(self, dev: bool) -> bytes:
        value = self.raw("pepper", secret=True)
        if value is None:
            # Development only: a fresh random pepper (codes do not survive a restart, by design).
            return secrets.token_bytes(MIN_PEPPER_BYTES) if dev else b""
        pepper = value.encode()
        if len(pepper) < MIN_PEPPER_BYTES:
            self.problems.append(f"OTP_PEPPER must be at least {MIN_PEPPER_BYTES} bytes")
        return pepper

    def totp_keys(self, dev: bool) -> tuple[bytes, ...]:
        one = self.raw("totp_encryption_key", secret=True)
        many = self.raw("totp_encryption_keys", secret=True)
        if one is not None and many is not None:
            self.problems.append(
                "set OTP_TOTP_ENCRYPTION_KEY or OTP_TOTP_ENCRYPTION_KEYS, not both"
            )
            return ()
        if one is None and many is None:
            # Development only: a fresh random key (factors do not survive a restart, by design).
            return (secrets.token_bytes(TOTP_KEY_BYTES),) if dev else ()
        name = "OTP_TOTP_ENCRYPTION_KEY" if one is not None else "OTP_TOTP_ENCRYPTION_KEYS"
        keys = [_base64_key(text) for text in (one or many or "").split(",")]
        for position, key in enumerate(keys, 1):
            if key is None:
                self.problems.append(
                    f"{name}: key {position} is not the base64 of {TOTP_KEY_BYTES} bytes"
                )
        if len(set(keys)) != len(keys):
            self.problems.append(f"{name} has the same key twice")
        return tuple(key for key in keys if key is not None)

    def clients(self, defaults: Policy) -> tuple[Client, ...]:
        value = self.raw("api_keys", secret=True)
        if value is None:
            return ()
        clients, problems = parse_clients(value, defaults)
        self.problems.extend(problems)
        return clients

    def jobs_settings(self, dev: bool) -> dict[str, Any]:
        return {
            "jobs_redis_url": self.raw("jobs_redis_url", secret=True) or "",
            "jobs_requeue_after_seconds": self.integer("jobs_requeue_after_seconds", 60, 1, 3600),
            # Development may post to a receiver on this machine; production only to public https.
            "webhooks_allow_private": self.flag("webhooks_allow_private", dev),
            "webhooks_timeout_seconds": self.typed(
                "webhooks_timeout_seconds", 10.0, float, "a number"
            ),
        }

    def webhooks(self, clients: tuple[Client, ...]) -> tuple[Endpoint, ...]:
        value = self.raw("webhooks", secret=True)
        if value is None:
            return ()
        endpoints, problems = parse_webhooks(value, {client.name for client in clients})
        self.problems.extend(problems)
        return endpoints

    def twilio_verify_accounts(
        self, clients: tuple[Client, ...]
    ) -> tuple[TwilioVerifyAccount, ...]:
        value = self.raw("twilio_verify_accounts", secret=True)
        if value is None:
            return ()
        accounts, problems = parse_twilio_verify_accounts(value, {c.name for c in clients})
        self.problems.extend(problems)
        return accounts


def _base64_key(text: str) -> bytes | None:
    """A TOTP key from standard or URL-safe base64, or None when it is not one."""
    try:
        key = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == TOTP_KEY_BYTES else None
