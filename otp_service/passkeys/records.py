"""
The passkey store's records: what its hashes hold and what its scripts answer, parsed strictly (an
unexpected reply is a ``ValueError``, which the script runner turns into a 503).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from otp_service.passkeys.models import (
    Ceremony,
    Challenge,
    Passkey,
    StoredPasskey,
    UserVerification,
)
from otp_service.storage.scripts import string_list


def challenge_fields(challenge: Challenge) -> dict[str, str | int]:
    """A pending ceremony as the fields of its hash."""
    return {
        "ceremony": challenge.ceremony.value,
        "client": challenge.client,
        "challenge": challenge.challenge,
        "user_verification": challenge.user_verification.value,
        "expires_ms": challenge.expires_ms,
        "subject": challenge.subject,
        "display_name": challenge.display_name,
    }


def parse_challenge(challenge_id: str, fields: Mapping[str, str]) -> Challenge:
    """Build a ``Challenge`` from the fields of its hash."""
    return Challenge(
        id=challenge_id,
        ceremony=Ceremony(fields["ceremony"]),
        client=fields["client"],
        challenge=fields["challenge"],
        user_verification=UserVerification(fields["user_verification"]),
        expires_ms=int(fields["expires_ms"]),
        subject=fields.get("subject", ""),
        display_name=fields.get("display_name", ""),
    )


def passkey_fields(stored: StoredPasskey, subject_digest: str) -> dict[str, str | int]:
    """A passkey as the fields of its hash (the public key in base64)."""
    passkey = stored.passkey
    return {
        "client": passkey.client,
        "subject": passkey.subject,
        "subject_digest": subject_digest,
        "credential_id": passkey.credential_id,
        "public_key": base64.b64encode(stored.public_key).decode(),
        "user_handle": stored.user_handle,
        "sign_count": passkey.sign_count,
        "backed_up": int(passkey.backed_up),
        "device_type": passkey.device_type,
        "transports": ",".join(passkey.transports),
        "aaguid": passkey.aaguid,
        "created_ms": passkey.created_ms,
        "last_used_ms": passkey.last_used_ms,
    }


def parse_passkey(passkey_id: str, fields: Mapping[str, str]) -> StoredPasskey:
    """Build a ``StoredPasskey`` from the fields of its hash."""
    transports = fields.get("transports", "")
    passkey = Passkey(
        id=passkey_id,
        client=fields["client"],
        subject=fields["subject"],
        credential_id=fields["credential_id"],
        created_ms=int(fields["created_ms"]),
        backed_up=fields.get("backed_up") == "1",
        device_type=fields.get("device_type", "single_device"),
        transports=tuple(transports.split(",")) if transports else (),
        sign_count=int(fields.get("sign_count") or 0),
        last_used_ms=int(fields.get("last_used_ms") or 0),
        aaguid=fields.get("aaguid", ""),
    )
    return StoredPasskey(
        passkey, base64.b64decode(fields["public_key"], validate=True), fields["user_handle"]
    )


def locked_until(reply: Any) -> int:
    """``passkey_reserve``'s answer: 0 when the verify may go on, else when the lockout ends."""
    parts = string_list(reply)
    if parts == ["ok"]:
        return 0
    if len(parts) == 2 and parts[0] == "locked":
        return int(parts[1])
    raise ValueError("not a passkey_reserve reply")
