"""
The HTTP face (the only package that imports Flask): blueprints, request parsing, problems.
"""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app

from otp_service.services import Services

EXTENSION_KEY = "otp_service"


def services() -> Services:
    """The app's ``Services`` (the only accessor)."""
    return cast(Services, current_app.extensions[EXTENSION_KEY])


def register_blueprints(app: Flask, services_: Services) -> None:
    """Attach every route; the dev pages only in development."""
    from otp_service.web import (
        api_docs,
        health,
        openapi,
        requests,
        totp,
        twilio_verify,
        verifications,
        webhooks,
    )

    app.extensions[EXTENSION_KEY] = services_
    requests.register_request_hooks(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(openapi.blueprint)
    app.register_blueprint(api_docs.blueprint)
    app.register_blueprint(verifications.blueprint)
    app.register_blueprint(totp.blueprint)
    # Always there: it answers 403 to anything not signed by Twilio for our public URL.
    app.register_blueprint(webhooks.blueprint)
    # The Twilio Verify compatible face (/v2): without OTP_TWILIO_VERIFY_ACCOUNTS it answers 401.
    app.register_blueprint(twilio_verify.blueprint)
    if services_.settings.is_development:
        from otp_service.web import dev

        app.register_blueprint(dev.blueprint)
