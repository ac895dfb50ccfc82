"""Fixtures of the verification tests: the API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.live_http import LiveApi, live_api
from tests.support import CapturingSender


@pytest.fixture(name="live")
def _live(app: Flask, sender: CapturingSender) -> Iterator[LiveApi]:
    """``/v1`` over real HTTP on loopback, on the test's app, clock and sender."""
    with live_api(app, sender) as api:
        yield api
