"""
The HTTP face (the only package that imports Flask): one blueprint per API face, each with its
routes, schemas and OpenAPI operations; request parsing, problems and the OpenAPI assembler.
"""

from __future__ import annotations

from flask import Flask

from otp_service.services import Services
from otp_service.web import api_docs, health, requests, webhooks
from otp_service.web.context import EXTENSION_KEY
from otp_service.web.fraud import routes as fraud
from otp_service.web.insights import routes as insights
from otp_service.web.load_shedding import register_load_shedding
from otp_service.web.locks import routes as locks
from otp_service.web.openapi import document as openapi
from otp_service.web.passkeys import routes as passkeys
from otp_service.web.totp import routes as totp
from otp_service.web.twilio_verify import attempts as twilio_attempts
from otp_service.web.twilio_verify import routes as twilio_verify
from otp_service.web.verify import routes as verifications


def register_blueprints(app: Flask, services_: Services) -> None:
    """Attach every route; the dev pages only in development."""
    app.extensions[EXTENSION_KEY] = services_
    requests.register_request_hooks(app)
    register_load_shedding(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(openapi.blueprint)
    app.register_blueprint(api_docs.blueprint)
    app.register_blueprint(verifications.blueprint)
    app.register_blueprint(totp.blueprint)
    app.register_blueprint(passkeys.blueprint)
    app.register_blueprint(locks.blueprint)
    app.register_blueprint(fraud.blueprint)
    app.register_blueprint(insights.blueprint)
    # Always there: it answers 403 to anything not signed by Twilio for our public URL.
    app.register_blueprint(webhooks.blueprint)
    # The Twilio Verify compatible face (/v2): without OTP_TWILIO_VERIFY_ACCOUNTS it answers 401.
    app.register_blueprint(twilio_attempts.blueprint)
    app.register_blueprint(twilio_verify.blueprint)
    if services_.settings.is_development:
        from otp_service.web import dev

        app.register_blueprint(dev.blueprint)
