"""
The ``/v1/insights`` routes (docs/api.md): conversion figures by country, channel or prefix. A key
with ``verifications:check`` reads its own client's figures; an ``admin`` key every client's.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from otp_service.core.errors import Forbidden
from otp_service.core.models import Client, Scope
from otp_service.insights import Dimension
from otp_service.insights.models import DAY_MS, HOUR_MS, hour_of
from otp_service.web.context import services
from otp_service.web.insights.operations import OPERATIONS as OPERATIONS
from otp_service.web.insights.schemas import ConversionQuery, ConversionResponse, milliseconds
from otp_service.web.requests import authenticate, parse_query

blueprint = Blueprint("insights", __name__, url_prefix="/v1/insights")


@blueprint.get("/conversion")
def conversion() -> Response:
    """Started, sent, approved, failed and conversion, one row per country, channel or prefix."""
    client = authenticate(Scope.CHECK, Scope.ADMIN)
    query = parse_query(ConversionQuery)
    insights = services().insights
    # By default the last 24 whole hours, the current one included.
    to_ms = milliseconds(query.to) if query.to else (hour_of(insights.now_ms()) + 1) * HOUR_MS
    from_ms = milliseconds(query.from_) if query.from_ else to_ms - DAY_MS
    rows = insights.conversion(_clients(client, query.client), Dimension(query.by), from_ms, to_ms)
    rendered = ConversionResponse.of(query.by, from_ms, to_ms, rows)
    return jsonify(rendered.model_dump(mode="json", by_alias=True))


def _clients(client: Client, named: str | None) -> list[str]:
    """
    The clients whose figures ``client`` reads: its own, or with ``admin`` every client's.

    Raises:
        Forbidden: a key without ``admin`` named another client.
    """
    if Scope.ADMIN not in client.scopes:
        if named not in (None, client.name):
            raise Forbidden("Only an admin key reads another client's figures.")
        return [client.name]
    every = sorted({known.name for known in services().settings.api_keys})
    return [named] if named is not None else every
