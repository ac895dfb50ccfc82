"""
Settings: parsed once from ``OTP_*`` environment variables, validated as a whole.

``Settings.from_env`` is the only reader of the environment; every problem found is listed in one
``ConfigError``. Each secret may also come from a file named by ``OTP_<NAME>_FILE``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

from phonenumbers import SUPPORTED_REGIONS

from otp_service.abuse import parse_limits
from otp_service.config.clients import (
    TwilioVerifyAccount,
    parse_clients,
    parse_twilio_verify_accounts,
)
from otp_service.core.codes import ARGON2_PROFILES
from otp_service.core.ip_addresses import DEFAULT_TRUSTED_PROXY_CIDRS, parse_networks
from otp_service.core.models import Client, Policy, Scope
from otp_service.storage.urls import host_problem, http_url_problem, redis_url_problem

_T = TypeVar("_T")
SECRET_FIELDS: Final = frozenset(
    {
        "pepper",
        "twilio_auth_token",
        "smtp_password",
        "api_keys",
        "dev_api_key",
        "twilio_verify_accounts",
        "totp_encryption_keys",
    }
)
SMS_PROVIDERS: Final = ("twilio", "dev", "none")
EMAIL_PROVIDERS: Final = ("smtp", "dev", "none")
SMTP_TLS_MODES: Final = ("none", "starttls", "ssl")
MIN_PEPPER_BYTES: Final = 32
TOTP_KEY_BYTES: Final = 32


class ConfigError(ValueError):
    """The environment does not make a valid configuration; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the service; field ``x`` comes from ``OTP_X``."""

    env: str = "production"
    redis_url: str = ""
    redis_prefix: str = "otp"
    redis_timeout_seconds: float = 2.0
    redis_wait_replicas: int | None = None  # None: 1 on Sentinel and Cluster URLs, else 0
    redis_wait_timeout_ms: int | None = None  # None: 500, at most half the Redis timeout
    pepper: bytes = b""
    api_keys: tuple[Client, ...] = ()
    sms_provider: str = "none"
    email_provider: str = "none"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_base: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_tls: str = "starttls"
    email_from: str = ""
    delivery_timeout_seconds: float = 10.0
    public_base_url: str = ""
    code_length: int = 6
    code_ttl_seconds: int = 600
    max_attempts: int = 5
    max_sends: int = 5
    resend_cooldown_seconds: int = 30
    argon2_profile: str = "otp"
    brand_name: str = "otp-service"
    default_locale: str = "en"
    default_region: str = ""
    log_level: str = "INFO"
    limit_destination_sends: str = "5/10minutes;10/day"
    limit_client_starts: str = "1000/minute"
    limit_ip_starts: str = "20/hour"
    limit_destination_failures: str = "10/hour"
    max_consecutive_failures: int = 100
    sms_allowed_countries: frozenset[str] = frozenset()
    sms_country_limit: str = "200/hour"
    sms_country_limits: tuple[tuple[str, str], ...] = ()
    trusted_proxies: int = 0
    #: Peers whose X-Forwarded-For is believed (with trusted_proxies > 0), as CIDR blocks.
    trusted_proxy_cidrs: tuple[str, ...] = DEFAULT_TRUSTED_PROXY_CIDRS
    #: IPv6 end users count per network of this prefix length for the per-IP start limit.
    ipv6_prefix_length: int = 64
    audit_stream: bool = False
    audit_stream_maxlen: int = 100_000
    #: Development only: the key `otp-service dev` made, prefilled on the /try page.
    dev_api_key: str = ""
    twilio_verify_accounts: tuple[TwilioVerifyAccount, ...] = ()
    #: AES-256 keys of TOTP secrets at rest, the current one first.
    totp_encryption_keys: tuple[bytes, ...] = ()

    @property
    def is_development(self) -> bool:
        """Whether dev conveniences (dev sender, outbox page) may exist."""
        return self.env == "development"

    @property
    def default_policy(self) -> Policy:
        """The policy of a client that overrides nothing."""
        return Policy(
            code_length=self.code_length,
            code_ttl_seconds=self.code_ttl_seconds,
            max_attempts=self.max_attempts,
            max_sends=self.max_sends,
            resend_cooldown_seconds=self.resend_cooldown_seconds,
            brand_name=self.brand_name,
            default_locale=self.default_locale,
            destination_sends=self.limit_destination_sends,
            client_starts=self.limit_client_starts,
            ip_starts=self.limit_ip_starts,
            destination_failures=self.limit_destination_failures,
            sms_allowed_countries=self.sms_allowed_countries,
        )

    def __repr__(self) -> str:
        shown = (
            f"{f.name}=<redacted>"
            if f.name in SECRET_FIELDS
            else f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
        )
        return f"Settings({', '.join(shown).replace(self.redis_url, redact_url(self.redis_url))})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """
        Parse and validate the settings in ``environ``.

        Raises:
            ConfigError: one or more settings are missing or invalid (all of them are listed).
        """
        return _Parser(environ).settings()


def redact_url(url: str) -> str:
    """``url`` without its password, for logs."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":<redacted>@")
    return urlunsplit(parts._replace(netloc=netloc))


class _Parser:
    """Reads ``OTP_*`` values, collecting every problem instead of stopping at the first."""

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

    def settings(self) -> Settings:
        env = self.choice("env", "production", ("development", "production"))
        dev = env == "development"
        values: dict[str, Any] = {
            "env": env,
            "redis_url": self.raw("redis_url", secret=True) or "",
            "redis_prefix": self.raw("redis_prefix") or "otp",
            "redis_timeout_seconds": self.typed("redis_timeout_seconds", 2.0, float, "a number"),
            "redis_wait_replicas": (
                self.integer("redis_wait_replicas", 0, 0, 16)
                if self.raw("redis_wait_replicas") is not None
                else None
            ),
            "redis_wait_timeout_ms": (
                self.integer("redis_wait_timeout_ms", 500, 1, 60_000)
                if self.raw("redis_wait_timeout_ms") is not None
                else None
            ),
            "sms_provider": self.choice("sms_provider", "dev" if dev else "none", SMS_PROVIDERS),
            "email_provider": self.choice(
                "email_provider", "dev" if dev else "none", EMAIL_PROVIDERS
            ),
            "smtp_port": self.integer("smtp_port", 587, 1, 65535),
            "smtp_tls": self.choice("smtp_tls", "starttls", SMTP_TLS_MODES),
            "delivery_timeout_seconds": self.typed(
                "delivery_timeout_seconds", 10.0, float, "a number"
            ),
            "code_length": self.integer("code_length", 6, 4, 10),
            "code_ttl_seconds": self.integer("code_ttl_seconds", 600, 30, 86_400),
            "max_attempts": self.integer("max_attempts", 5, 1, 100),
            "max_sends": self.integer("max_sends", 5, 1, 100),
            "resend_cooldown_seconds": self.integer("resend_cooldown_seconds", 30, 0, 3600),
            "argon2_profile": self.choice("argon2_profile", "otp", tuple(ARGON2_PROFILES)),
            "brand_name": self.raw("brand_name") or "otp-service",
            "default_locale": self.raw("default_locale") or "en",
            "default_region": (self.raw("default_region") or "").upper(),
            "log_level": (self.raw("log_level") or "INFO").upper(),
            **self._abuse_settings(),
        }
        for name in (
            "twilio_account_sid",
            "twilio_from",
            "twilio_messaging_service_sid",
            "twilio_api_base",
            "smtp_host",
            "smtp_username",
            "email_from",
            "public_base_url",
        ):
            values[name] = self.raw(name) or ""
        for name in ("twilio_auth_token", "smtp_password"):
            values[name] = self.raw(name, secret=True) or ""
        values["pepper"] = self._pepper(dev)
        values["dev_api_key"] = self.raw("dev_api_key", secret=True) or ""
        values["totp_encryption_keys"] = self._totp_keys(dev)
        settings = Settings(**values)
        settings = Settings(**{**values, "api_keys": self._clients(settings.default_policy)})
        settings = replace(
            settings, twilio_verify_accounts=self._twilio_verify_accounts(settings.api_keys)
        )
        self._check_whole(settings)
        if self.problems:
            raise ConfigError(self.problems)
        return settings

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

    def flag(self, name: str, default: bool) -> bool:
        value = (self.raw(name) or "").lower()
        if not value:
            return default
        if value not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
            self.problems.append(f"OTP_{name.upper()} must be on or off (got {value!r})")
        return value in ("1", "true", "on", "yes")

    def _abuse_settings(self) -> dict[str, Any]:
        return {
            "limit_destination_sends": self.limit("limit_destination_sends", "5/10minutes;10/day"),
            "limit_client_starts": self.limit("limit_client_starts", "1000/minute"),
            "limit_ip_starts": self.limit("limit_ip_starts", "20/hour"),
            "limit_destination_failures": self.limit("limit_destination_failures", "10/hour"),
            "max_consecutive_failures": self.integer("max_consecutive_failures", 100, 1, 100),
            "sms_allowed_countries": self.countries("sms_allowed_countries"),
            "sms_country_limit": self.limit("sms_country_limit", "200/hour"),
            "sms_country_limits": self.country_limits(),
            "trusted_proxies": self.integer("trusted_proxies", 0, 0, 5),
            "trusted_proxy_cidrs": self.cidrs("trusted_proxy_cidrs"),
            "ipv6_prefix_length": self.integer("ipv6_prefix_length", 64, 32, 128),
            "audit_stream": self.flag("audit_stream", False),
            "audit_stream_maxlen": self.integer("audit_stream_maxlen", 100_000, 100, 10_000_000),
        }

    def _pepper(self, dev: bool) -> bytes:
        value = self.raw("pepper", secret=True)
        if value is None:
            # Development only: a fresh random pepper (codes do not survive a restart, by design).
            return secrets.token_bytes(MIN_PEPPER_BYTES) if dev else b""
        pepper = value.encode()
        if len(pepper) < MIN_PEPPER_BYTES:
            self.problems.append(f"OTP_PEPPER must be at least {MIN_PEPPER_BYTES} bytes")
        return pepper

    def _totp_keys(self, dev: bool) -> tuple[bytes, ...]:
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

    def _clients(self, defaults: Policy) -> tuple[Client, ...]:
        value = self.raw("api_keys", secret=True)
        if value is None:
            return ()
        clients, problems = parse_clients(value, defaults)
        self.problems.extend(problems)
        return clients

    def _twilio_verify_accounts(
        self, clients: tuple[Client, ...]
    ) -> tuple[TwilioVerifyAccount, ...]:
        value = self.raw("twilio_verify_accounts", secret=True)
        if value is None:
            return ()
        accounts, problems = parse_twilio_verify_accounts(value, {c.name for c in clients})
        self.problems.extend(problems)
        return accounts

    def _check_whole(self, s: Settings) -> None:
        if s.sms_provider == "twilio":
            for name in ("twilio_account_sid", "twilio_auth_token"):
                if not getattr(s, name):
                    self.problems.append(
                        f"OTP_{name.upper()} is required with OTP_SMS_PROVIDER=twilio"
                    )
            if not (s.twilio_from or s.twilio_messaging_service_sid):
                self.problems.append(
                    "OTP_TWILIO_FROM or OTP_TWILIO_MESSAGING_SERVICE_SID is required with "
                    "OTP_SMS_PROVIDER=twilio"
                )
        if s.email_provider == "smtp":
            for name in ("smtp_host", "email_from"):
                if not getattr(s, name):
                    self.problems.append(
                        f"OTP_{name.upper()} is required with OTP_EMAIL_PROVIDER=smtp"
                    )
        wait_timeout_ms = s.redis_wait_timeout_ms
        if wait_timeout_ms is not None and wait_timeout_ms >= s.redis_timeout_seconds * 1000:
            self.problems.append(
                "OTP_REDIS_WAIT_TIMEOUT_MS must be below OTP_REDIS_TIMEOUT_SECONDS (in ms), or a"
                " slow acknowledgement is a socket timeout"
            )
        if s.env == "production":
            self._check_production(s)
        elif not s.redis_url:
            self.problems.append("OTP_REDIS_URL missing (`otp-service dev` starts a Redis for you)")
        self._check_dev_api_key(s)
        self._check_urls(s)

    def _check_urls(self, s: Settings) -> None:
        """Every URL and host setting, by the rules the code that uses it applies."""
        found = [
            redis_url_problem(s.redis_url) if s.redis_url else None,
            http_url_problem(s.twilio_api_base, "OTP_TWILIO_API_BASE")
            if s.twilio_api_base
            else None,
            http_url_problem(s.public_base_url, "OTP_PUBLIC_BASE_URL")
            if s.public_base_url
            else None,
            host_problem(s.smtp_host, "OTP_SMTP_HOST") if s.smtp_host else None,
        ]
        self.problems.extend(problem for problem in found if problem is not None)

    def _check_dev_api_key(self, s: Settings) -> None:
        if not s.dev_api_key:
            return
        if not s.is_development:
            self.problems.append("OTP_DEV_API_KEY is for development only (the /try page)")
        elif hashlib.sha256(s.dev_api_key.encode()).hexdigest() not in {
            client.key_sha256 for client in s.api_keys
        }:
            self.problems.append("OTP_DEV_API_KEY is not one of the keys in OTP_API_KEYS")

    def _check_production(self, s: Settings) -> None:
        if not s.pepper:
            self.problems.append("OTP_PEPPER missing (required in production)")
        if not s.api_keys and not any(p.startswith("OTP_API_KEYS") for p in self.problems):
            self.problems.append("OTP_API_KEYS missing (required in production)")
        if not s.redis_url:
            self.problems.append("OTP_REDIS_URL missing (required in production)")
        if "dev" in (s.sms_provider, s.email_provider):
            self.problems.append("the dev sender cannot be used in production")
        if s.sms_provider == "none" and s.email_provider == "none":
            self.problems.append(
                "no sender configured: set OTP_SMS_PROVIDER=twilio and/or OTP_EMAIL_PROVIDER=smtp"
            )
        if s.argon2_profile == "test":
            self.problems.append("OTP_ARGON2_PROFILE=test is for tests only, not production")
        if not s.totp_encryption_keys and any(Scope.TOTP in c.scopes for c in s.api_keys):
            self.problems.append(
                "OTP_TOTP_ENCRYPTION_KEY missing (required in production when a key has the "
                "totp scope: it encrypts TOTP secrets at rest)"
            )


def _base64_key(text: str) -> bytes | None:
    """A TOTP key from standard or URL-safe base64, or None when it is not one."""
    try:
        key = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == TOTP_KEY_BYTES else None
