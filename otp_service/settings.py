"""
Settings: parsed once from ``OTP_*`` environment variables, validated as a whole (practice 7).

``Settings.from_env`` is the only reader of the environment; every problem found is listed in one
``ConfigError``. Each secret may also come from a file named by ``OTP_<NAME>_FILE``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pydantic

from otp_service.codes import ARGON2_PROFILES
from otp_service.models import Channel, Client, Policy, Scope

_T = TypeVar("_T")
SECRET_FIELDS: Final = frozenset({"pepper", "twilio_auth_token", "smtp_password", "api_keys"})
SMS_PROVIDERS: Final = ("twilio", "dev", "none")
EMAIL_PROVIDERS: Final = ("smtp", "dev", "none")
SMTP_TLS_MODES: Final = ("none", "starttls", "ssl")
MIN_PEPPER_BYTES: Final = 32


class ConfigError(ValueError):
    """The environment does not make a valid configuration; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration: " + "; ".join(problems))
        self.problems = problems


class _PolicyModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    code_length: int | None = pydantic.Field(None, ge=4, le=10)
    code_ttl_seconds: int | None = pydantic.Field(None, ge=30, le=86_400)
    max_attempts: int | None = pydantic.Field(None, ge=1, le=100)
    max_sends: int | None = pydantic.Field(None, ge=1, le=100)
    resend_cooldown_seconds: int | None = pydantic.Field(None, ge=0, le=3600)
    channels: list[Channel] | None = None
    brand_name: str | None = pydantic.Field(None, min_length=1, max_length=40)
    webotp_domain: str | None = pydantic.Field(None, pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")
    default_locale: str | None = pydantic.Field(None, pattern=r"^[a-z]{2}$")


class _ClientModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: str = pydantic.Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    key_sha256: str = pydantic.Field(pattern=r"^[0-9a-f]{64}$")
    scopes: list[Scope] = pydantic.Field(min_length=1)
    policy: _PolicyModel = _PolicyModel()


_CLIENTS: Final = pydantic.TypeAdapter(list[_ClientModel])


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the service; field ``x`` comes from ``OTP_X``."""

    env: str = "production"
    redis_url: str = ""
    redis_prefix: str = "otp"
    redis_timeout_seconds: float = 2.0
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
        settings = Settings(**values)
        settings = Settings(**{**values, "api_keys": self._clients(settings.default_policy)})
        self._check_whole(settings)
        if self.problems:
            raise ConfigError(self.problems)
        return settings

    def _pepper(self, dev: bool) -> bytes:
        value = self.raw("pepper", secret=True)
        if value is None:
            # Development only: a fresh random pepper (codes do not survive a restart, by design).
            return secrets.token_bytes(MIN_PEPPER_BYTES) if dev else b""
        pepper = value.encode()
        if len(pepper) < MIN_PEPPER_BYTES:
            self.problems.append(f"OTP_PEPPER must be at least {MIN_PEPPER_BYTES} bytes")
        return pepper

    def _clients(self, defaults: Policy) -> tuple[Client, ...]:
        value = self.raw("api_keys", secret=True)
        if value is None:
            return ()
        try:
            models = _CLIENTS.validate_python(json.loads(value))
        except json.JSONDecodeError as error:
            self.problems.append(f"OTP_API_KEYS is not JSON ({error.msg} at {error.pos})")
            return ()
        except pydantic.ValidationError as error:
            for item in error.errors():
                where = ".".join(str(part) for part in item["loc"])
                self.problems.append(f"OTP_API_KEYS[{where}]: {item['msg']}")
            return ()
        names = [model.name for model in models]
        if len(set(names)) != len(names):
            self.problems.append("OTP_API_KEYS has two clients with the same name")
        return tuple(_client(model, defaults) for model in models)

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
        if s.env == "production":
            self._check_production(s)
        elif not s.redis_url:
            self.problems.append("OTP_REDIS_URL missing (`otp-service dev` starts a Redis for you)")

    def _check_production(self, s: Settings) -> None:
        if not s.pepper:
            self.problems.append("OTP_PEPPER missing (required in production)")
        if not s.api_keys:
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


def _client(model: _ClientModel, defaults: Policy) -> Client:
    overrides = {
        name: value
        for name, value in model.policy.model_dump(exclude_none=True).items()
        if name != "channels"
    }
    if model.policy.channels is not None:
        overrides["channels"] = frozenset(model.policy.channels)
    return Client(
        name=model.name,
        key_sha256=model.key_sha256,
        scopes=frozenset(model.scopes),
        policy=Policy(**{**_policy_values(defaults), **overrides}),
    )


def _policy_values(policy: Policy) -> dict[str, Any]:
    return {f.name: getattr(policy, f.name) for f in fields(policy)}
