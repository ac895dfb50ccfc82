"""
The service's environment under benchmark: development mode for the dev sender, the profile under
test, and rate limits that the load never reaches, so they do not shape the throughput figure.

The limits shared by every flow (per client, per IP, per SMS country) are set far above the load.
The limits per destination keep their production defaults: every flow has a destination of its
own, so they never trip, while their keys, scripts and round trips are those of production (a
generous ``5/10minutes;10/day`` would be one window instead of two, and ``moving_window.lua``
binary-searches up to the limit: 27 ``LINDEX`` per start for 10^8 instead of 4 for 10).
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

#: The production default of ``OTP_REDIS_PREFIX``: key names, hence memory, as deployed.
PREFIX: Final = "otp"
PEPPER: Final = "bench-pepper-0123456789abcdef0123456789"
#: client name → API key. ``limited`` may start one verification an hour: every start after its
#: first is the rate-limited rejection.
KEYS: Final = {
    "bench": "bench-key-0123456789abcdef0123456789abcdef",
    "limited": "limited-key-0123456789abcdef0123456789abc",
}
GENEROUS: Final = "100000000/minute"


def _client(name: str, policy: dict[str, str] | None = None) -> dict[str, object]:
    entry: dict[str, object] = {
        "name": name,
        "key_sha256": hashlib.sha256(KEYS[name].encode()).hexdigest(),
        "scopes": ["verifications:start", "verifications:check"],
    }
    if policy:
        entry["policy"] = policy
    return entry


def service_environ(redis_url: str, profile: str, log_level: str = "INFO") -> dict[str, str]:
    """``OTP_*`` variables of the service under benchmark."""
    return {
        "OTP_ENV": "development",
        "OTP_REDIS_URL": redis_url,
        "OTP_REDIS_PREFIX": PREFIX,
        "OTP_PEPPER": PEPPER,
        "OTP_API_KEYS": json.dumps(
            [_client("bench"), _client("limited", {"client_starts": "1/hour"})]
        ),
        "OTP_SMS_PROVIDER": "dev",
        "OTP_EMAIL_PROVIDER": "dev",
        "OTP_ARGON2_PROFILE": profile,
        "OTP_LOG_LEVEL": log_level,
        "OTP_LIMIT_CLIENT_STARTS": GENEROUS,
        "OTP_LIMIT_IP_STARTS": GENEROUS,
        "OTP_SMS_COUNTRY_LIMIT": GENEROUS,
        # Per destination: the production defaults (see above), stated to be explicit.
        "OTP_LIMIT_DESTINATION_SENDS": "5/10minutes;10/day",
        "OTP_LIMIT_DESTINATION_FAILURES": "10/hour",
    }


def outbox_key() -> str:
    """The dev outbox list (``DEV_OUTBOX_KEY`` of ``otp_service.storage.dev_outbox``)."""
    return f"{PREFIX}:dev:outbox"
