"""
Signing: the Standard Webhooks headers of one message (the only importer of ``standardwebhooks``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


def signed_headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """
    ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 of the
    HMAC-SHA256 of ``id.timestamp.body`` under the secret), with the JSON content type.
    """
    signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, UTC), body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def secret_problem(secret: str) -> str | None:
    """What is wrong with a signing secret, or None: ``whsec_`` + base64 of 24 to 64 bytes."""
    if not secret.startswith("whsec_"):
        return "must start with whsec_"
    try:
        key = Webhook(secret)._whsecret
    except Exception:
        return "is not whsec_ + base64"
    if not 24 <= len(key) <= 64:
        return f"must hold 24 to 64 bytes (has {len(key)})"
    return None
