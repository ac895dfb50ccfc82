"""
What an authenticator app and the service share (RFC 6238): the secret, the step a code belongs
to, and the ``otpauth://`` URI with its QR code. The only ``pyotp`` user.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from datetime import UTC, datetime
from typing import Final

import pyotp
import segno

from otp_service.totp.models import PERIOD_SECONDS, Algorithm, Factor

TOLERANCE_STEPS: Final = 1
_DIGESTS: Final = {
    Algorithm.SHA1: hashlib.sha1,
    Algorithm.SHA256: hashlib.sha256,
    Algorithm.SHA512: hashlib.sha512,
}


def new_secret() -> str:
    """A fresh base32 secret of 160 bits (RFC 4226's recommended length) from the OS's CSPRNG."""
    return pyotp.random_base32(32)


def matched_step(
    secret: str, algorithm: Algorithm, digits: int, code: str, now_ms: int
) -> int | None:
    """
    The time step ``code`` is the code of, within one step of now, or None.

    Every candidate is compared (no early exit); if two steps share the code, the later wins.
    """
    totp = pyotp.TOTP(secret, digits=digits, digest=_DIGESTS[algorithm], interval=PERIOD_SECONDS)
    # An aware UTC datetime: pyotp reads a naive one as local time.
    current = totp.timecode(datetime.fromtimestamp(now_ms // 1000, tz=UTC))
    found = None
    for step in range(max(current - TOLERANCE_STEPS, 0), current + TOLERANCE_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def provisioning_uri(secret: str, factor: Factor, issuer: str) -> str:
    """The ``otpauth://totp/`` URI an authenticator app scans to enrol ``factor``."""
    totp = pyotp.TOTP(
        secret, digits=factor.digits, digest=_DIGESTS[factor.algorithm], interval=PERIOD_SECONDS
    )
    # The Key URI Format forbids a colon in the issuer or the account name, even encoded.
    return totp.provisioning_uri(
        name=factor.label.replace(":", "_"), issuer_name=issuer.replace(":", "_")
    )


def qr_svg(uri: str) -> str:
    """An SVG QR code of ``uri`` (error correction M, as authenticator apps expect to scan)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", xmldecl=False, scale=4, border=4)
    return buffer.getvalue().decode()
