"""
``GET /metrics`` and the HTTP side of the metrics: requests by route and status, Redis errors.
"""

from __future__ import annotations

import time
from typing import Final, cast

from flask import Blueprint, Flask, Response, current_app, g, request

from otp_service.core import errors
from otp_service.ops.metrics import Metrics
from otp_service.web.openapi import Operation, text
from otp_service.web.problems import handle_otp_error

EXTENSION_KEY: Final = "otp_service.ops.metrics"
#: The route label of requests that matched no rule (404, 405): never the raw path, whose values
#: are unbounded.
UNMATCHED_ROUTE: Final = "<unmatched>"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

blueprint = Blueprint("metrics", __name__)

OPERATIONS: Final = (
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics",
        {200: text("text/plain", "Prometheus text exposition format, every worker merged.")},
        description="Restrict it to the scraper at the load balancer: it needs no API key.",
        tags=("operations",),
        security=(),
    ),
)


def _metrics() -> Metrics:
    return cast(Metrics, current_app.extensions[EXTENSION_KEY])


@blueprint.get("/metrics")
def metrics_page() -> Response:
    """Every metric, in Prometheus text format (or OpenMetrics, when asked for)."""
    body, content_type = _metrics().exposition(request.headers.get("Accept", ""))
    return Response(body, content_type=content_type)


def count_store_error() -> None:
    """Count one Redis failure (when the app has metrics)."""
    metrics = current_app.extensions.get(EXTENSION_KEY)
    if isinstance(metrics, Metrics):
        metrics.count_redis_error()


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.get("metrics_started")
    seconds = time.perf_counter() - started if started is not None else None
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    # Any string is a method to Werkzeug: keep the label's values bounded.
    method = request.method if request.method in _METHODS else "OTHER"
    _metrics().observe_request(method, route, response.status_code, seconds)
    return response


def _store_unavailable(error: errors.StoreUnavailable) -> Response:
    count_store_error()
    return handle_otp_error(error)


def register_metrics(app: Flask, metrics: Metrics) -> None:
    """Serve ``/metrics`` and count every request and every Redis failure of ``app``."""
    app.extensions[EXTENSION_KEY] = metrics
    app.before_request(_start_timer)
    app.after_request(_count_request)
    # More specific than the OTPError handler of web/problems.py, which renders the problem.
    app.register_error_handler(errors.StoreUnavailable, _store_unavailable)
    app.register_blueprint(blueprint)
