"""
API keys: made at random, stored in ``OTP_API_KEYS`` only as their SHA-256 (``keys new``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence

KEYS_NEW_TEXT = """API key (shown once):
  {key}
Give it to the client as a secret (its secret manager or a file only it reads, never a
repository). The service keeps only its SHA-256, in the values below.

OTP_API_KEYS with this key alone (paste as the variable's value, or into OTP_API_KEYS_FILE):
{value}

Or append this entry to the list OTP_API_KEYS already holds:
{entry}"""


def new_api_key() -> str:
    """A fresh API key (256 random bits)."""
    return "otp_" + secrets.token_urlsafe(32)


def api_key_entry(name: str, key: str, scopes: Sequence[str]) -> dict[str, object]:
    """The ``OTP_API_KEYS`` entry of a key: only its SHA-256 is stored."""
    return {
        "name": name,
        "key_sha256": hashlib.sha256(key.encode()).hexdigest(),
        "scopes": list(scopes),
    }


def run_keys_new(name: str, scopes: Sequence[str], *, as_json: bool) -> int:
    """Print a new API key once, ``OTP_API_KEYS`` holding it alone, and its entry."""
    key = new_api_key()
    entry = api_key_entry(name, key, scopes)
    value = json.dumps([entry])
    if as_json:
        print(json.dumps({"api_key": key, "otp_api_keys": value, "entry": entry}))
        return 0
    print(KEYS_NEW_TEXT.format(key=key, value=value, entry=json.dumps(entry)))
    return 0
