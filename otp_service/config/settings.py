"""
Settings: parsed once from ``OTP_*`` environment variables, validated as a whole.

``Settings.from_env`` is the only reader of the environment; every problem found is listed in one
``ConfigError``. Each secret may also come from a file named by ``OTP_<NAME>_FILE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from otp_service.config.checks import problems_of
from otp_service.config.clients import TwilioVerifyAccount
from otp_service.config.environment import EnvironmentReader
from otp_service.config.jobs import jobs_url
from otp_service.core.codes import ARGON2_PROFILES
from otp_service.core.ip_addresses import DEFAULT_TRUSTED_PROXY_CIDRS
from otp_service.core.models import DEFAULT_LOCKOUT_SCHEDULE, Channel, Client, Policy
from otp_service.webhooks import Endpoint

SECRET_FIELDS: Final = frozenset(
    {
        "pepper",
        "twilio_auth_token",
        "smtp_password",
        "api_keys",
        "dev_api_key",
        "twilio_verify_accounts",
        "totp_encryption_keys",
        "webhooks",
    }
)
SMS_PROVIDERS: Final = ("twilio", "dev", "none")
EMAIL_PROVIDERS: Final = ("smtp", "dev", "none")
SMTP_TLS_MODES: Final = ("none", "starttls", "ssl")


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
    #: Requests that waited longer in the server's queue (nginx's X-Request-Start) are shed.
    max_queue_ms: int = 1000
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
    twilio_whatsapp_from: str = ""
    twilio_whatsapp_content_sid: str = ""
    twilio_voice_from: str = ""
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
    limit_channel_sends: tuple[tuple[Channel, str], ...] = ()
    max_consecutive_failures: int = 100
    #: Seconds of each step of escalating lockouts, shortest first (the last one repeats).
    lockout_schedule: tuple[int, ...] = DEFAULT_LOCKOUT_SCHEDULE
    sms_allowed_countries: frozenset[str] = frozenset()
    sms_country_limit: str = "5000/hour"
    sms_country_limits: tuple[tuple[str, str], ...] = ()
    #: The pumping guard: off | monitor | block (from the environment: block in production,
    #: monitor in development), and the numbers and E.164 prefixes it never counts or refuses.
    fraud_guard: str = "off"
    fraud_safe_list: tuple[str, ...] = ()
    trusted_proxies: int = 0
    #: Peers whose X-Forwarded-For is believed (with trusted_proxies > 0), as CIDR blocks.
    trusted_proxy_cidrs: tuple[str, ...] = DEFAULT_TRUSTED_PROXY_CIDRS
    #: IPv6 end users count per network of this prefix length for the per-IP start limit.
    ipv6_prefix_length: int = 64
    audit_stream: bool = False
    audit_stream_maxlen: int = 100_000
    #: Days the hourly conversion counters are kept (0: nothing is counted).
    insights_retention_days: int = 35
    #: Days the record of each send (an attempt, for /v2/Attempts) is kept (0: none is kept).
    insights_attempt_days: int = 30
    #: Development only: the key `otp-service dev` made, prefilled on the /try page.
    dev_api_key: str = ""
    twilio_verify_accounts: tuple[TwilioVerifyAccount, ...] = ()
    #: AES-256 keys of TOTP secrets at rest, the current one first.
    totp_encryption_keys: tuple[bytes, ...] = ()
    #: The WebAuthn relying party: the domain passkeys are scoped to, its name, allowed origins.
    webauthn_rp_id: str = ""
    webauthn_rp_name: str = ""
    webauthn_origins: tuple[str, ...] = ()
    #: The job queue's Redis ('': OTP_REDIS_URL, unless that is a Cluster: see ``jobs_url``).
    jobs_redis_url: str = ""
    #: A job held by a worker that sent no heartbeat for this long is run again by another.
    jobs_requeue_after_seconds: int = 60
    #: Outbound webhook endpoints, per client (their secrets are never shown).
    webhooks: tuple[Endpoint, ...] = ()
    #: Let webhooks go to http:// and to private or loopback addresses (development, tests).
    webhooks_allow_private: bool = False
    webhooks_timeout_seconds: float = 10.0

    @property
    def is_development(self) -> bool:
        """Whether dev conveniences (dev sender, outbox page) may exist."""
        return self.env == "development"

    @property
    def jobs_url(self) -> str:
        """The Redis of the job queue, or '' when there is none (a Cluster and no own URL)."""
        return jobs_url(self)

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
            channel_sends=self.limit_channel_sends,
            sms_allowed_countries=self.sms_allowed_countries,
        )

    def __repr__(self) -> str:
        shown = (
            f"{f.name}=<redacted>"
            if f.name in SECRET_FIELDS
            else f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
        )
        text = ", ".join(shown).replace(self.redis_url, redact_url(self.redis_url))
        if self.jobs_redis_url:
            text = text.replace(self.jobs_redis_url, redact_url(self.jobs_redis_url))
        return f"Settings({text})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """
        Parse and validate the settings in ``environ``.

        Raises:
            ConfigError: one or more settings are missing or invalid (all of them are listed).
        """
        return _read(EnvironmentReader(environ))


def redact_url(url: str) -> str:
    """``url`` without its password, for logs."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":<redacted>@")
    return urlunsplit(parts._replace(netloc=netloc))


def _read(reader: EnvironmentReader) -> Settings:
    env = reader.choice("env", "production", ("development", "production"))
    dev = env == "development"
    values: dict[str, Any] = {
        "env": env,
        "redis_url": reader.raw("redis_url", secret=True) or "",
        "redis_prefix": reader.raw("redis_prefix") or "otp",
        "redis_timeout_seconds": reader.typed("redis_timeout_seconds", 2.0, float, "a number"),
        "max_queue_ms": reader.integer("max_queue_ms", 1000, 0, 60_000),
        "redis_wait_replicas": (
            reader.integer("redis_wait_replicas", 0, 0, 16)
            if reader.raw("redis_wait_replicas") is not None
            else None
        ),
        "redis_wait_timeout_ms": (
            reader.integer("redis_wait_timeout_ms", 500, 1, 60_000)
            if reader.raw("redis_wait_timeout_ms") is not None
            else None
        ),
        "sms_provider": reader.choice("sms_provider", "dev" if dev else "none", SMS_PROVIDERS),
        "email_provider": reader.choice(
            "email_provider", "dev" if dev else "none", EMAIL_PROVIDERS
        ),
        "smtp_port": reader.integer("smtp_port", 587, 1, 65535),
        "smtp_tls": reader.choice("smtp_tls", "starttls", SMTP_TLS_MODES),
        "delivery_timeout_seconds": reader.typed(
            "delivery_timeout_seconds", 10.0, float, "a number"
        ),
        "code_length": reader.integer("code_length", 6, 4, 10),
        "code_ttl_seconds": reader.integer("code_ttl_seconds", 600, 30, 86_400),
        "max_attempts": reader.integer("max_attempts", 5, 1, 100),
        "max_sends": reader.integer("max_sends", 5, 1, 100),
        "resend_cooldown_seconds": reader.integer("resend_cooldown_seconds", 30, 0, 3600),
        "argon2_profile": reader.choice("argon2_profile", "otp", tuple(ARGON2_PROFILES)),
        "brand_name": reader.raw("brand_name") or "otp-service",
        "default_locale": reader.raw("default_locale") or "en",
        "default_region": (reader.raw("default_region") or "").upper(),
        "log_level": (reader.raw("log_level") or "INFO").upper(),
        "insights_retention_days": reader.integer("insights_retention_days", 35, 0, 400),
        "insights_attempt_days": reader.integer("insights_attempt_days", 30, 0, 400),
        **reader.abuse_settings(),
    }
    for name in (
        "twilio_account_sid",
        "twilio_from",
        "twilio_messaging_service_sid",
        "twilio_api_base",
        "twilio_whatsapp_from",
        "twilio_whatsapp_content_sid",
        "twilio_voice_from",
        "smtp_host",
        "smtp_username",
        "email_from",
        "public_base_url",
    ):
        values[name] = reader.raw(name) or ""
    for name in ("twilio_auth_token", "smtp_password"):
        values[name] = reader.raw(name, secret=True) or ""
    values["pepper"] = reader.pepper(dev)
    values["dev_api_key"] = reader.raw("dev_api_key", secret=True) or ""
    values["totp_encryption_keys"] = reader.totp_keys(dev)
    values["webauthn_rp_id"] = (
        reader.raw("webauthn_rp_id") or ("localhost" if dev else "")
    ).lower()
    values["webauthn_rp_name"] = reader.raw("webauthn_rp_name") or values["brand_name"]
    values["webauthn_origins"] = reader.origins("webauthn_origins")
    values["fraud_guard"] = reader.choice(
        "fraud_guard", "monitor" if dev else "block", ("off", "monitor", "block")
    )
    values["fraud_safe_list"] = reader.safe_list("fraud_safe_list")
    values.update(reader.jobs_settings(dev))
    settings = Settings(**values)
    settings = Settings(**{**values, "api_keys": reader.clients(settings.default_policy)})
    settings = replace(
        settings,
        twilio_verify_accounts=reader.twilio_verify_accounts(settings.api_keys),
        webhooks=reader.webhooks(settings.api_keys),
    )
    problems = reader.problems + problems_of(settings, reader.problems)
    if problems:
        raise ConfigError(problems)
    return settings
