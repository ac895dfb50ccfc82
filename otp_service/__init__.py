"""otp-service: one-time codes by SMS and email, and TOTP factors, on Redis."""

from otp_service.app import create_app

__all__ = ["create_app"]
