"""The app's ``Services``, as the routes reach them (the only accessor)."""

from __future__ import annotations

from typing import Final, cast

from flask import current_app

from otp_service.services import Services

EXTENSION_KEY: Final = "otp_service"


def services() -> Services:
    """The app's ``Services``."""
    return cast(Services, current_app.extensions[EXTENSION_KEY])
