"""
The dev outbox (development only): what the dev sender "delivered", newest first.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from otp_service.web import services

blueprint = Blueprint("dev", __name__, template_folder="../templates")


@blueprint.get("/dev/outbox")
def outbox_page() -> str:
    """The dev outbox as a page that refreshes by itself."""
    return render_template("dev/outbox.html", messages=services().store.dev_messages())


@blueprint.get("/dev/outbox.json")
def outbox_json() -> Response:
    """The dev outbox as JSON: ``{"messages": [...]}``, newest first."""
    return jsonify({"messages": services().store.dev_messages()})
