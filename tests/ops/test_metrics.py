"""
Metrics: the engine's events counted by outcome, every HTTP request by route and status, Redis
failures, and ``GET /metrics`` in Prometheus text format.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.events import Event, EventKind
from otp_service.core.models import Channel, Policy
from otp_service.ops.metrics import UNCOUNTED, Metrics
from otp_service.web.metrics import EXTENSION_KEY, UNMATCHED_ROUTE
from tests.conftest import make_clients
from tests.support import EMAIL, Api, CapturingSender, FakeClock, auth


def metrics_of(app: Flask) -> Metrics:
    """The app's metrics."""
    return cast(Metrics, app.extensions[EXTENSION_KEY])


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    """One sample's value; 0 when it was never set."""
    return metrics.registry.get_sample_value(name, labels) or 0.0


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the app's own metrics (``otp_*``), by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in metrics.registry.collect()
        if family.name.startswith("otp_")
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


class TestEventSink:
    """Metrics counts the engine's events."""

    def test_a_start_counts_by_channel(self) -> None:
        """A started verification counts once, under its channel."""
        metrics = Metrics()
        metrics.record(Event(EventKind.STARTED, "acme", "vf_1", channel="email"))
        assert 1.0 == sample(metrics, "otp_verifications_started_total", channel="email")
        assert 0.0 == sample(metrics, "otp_verifications_started_total", channel="sms")

    @pytest.mark.parametrize(
        ("event", "outcome"),
        [
            (Event(EventKind.CHECKED, "acme", outcome="approved"), "approved"),
            (Event(EventKind.CHECKED, "acme", outcome="wrong_code"), "wrong_code"),
            (Event(EventKind.CHECKED, "acme", outcome="stale"), "stale_code"),
            (Event(EventKind.CHECKED, "acme", outcome="gone"), "not_found"),
            (Event(EventKind.LOCKED, "acme"), "locked"),
            (Event(EventKind.NOT_FOUND, "acme"), "not_found"),
            (Event(EventKind.EXPIRED_ON_CHECK, "acme"), "expired"),
        ],
    )
    def test_a_check_counts_by_outcome(self, event: Event, outcome: str) -> None:
        """Each kind of check lands under one outcome label."""
        metrics = Metrics()
        metrics.record(event)
        assert 1.0 == sample(metrics, "otp_checks_total", outcome=outcome)

    def test_a_delivery_counts_with_its_latency(self) -> None:
        """A delivery counts by channel, provider and outcome, and observes its latency."""
        metrics = Metrics()
        detail: dict[str, str | float] = {"provider": "twilio", "latency_ms": 250.0}
        metrics.record(Event(EventKind.DELIVERED, "acme", channel="sms", detail=detail))
        labels = {"channel": "sms", "provider": "twilio", "outcome": "sent"}
        assert 1.0 == sample(metrics, "otp_deliveries_total", **labels)
        assert 0.25 == sample(metrics, "otp_delivery_duration_seconds_sum", **labels)
        assert 1.0 == sample(metrics, "otp_delivery_duration_seconds_bucket", le="0.25", **labels)

    def test_a_failed_delivery_counts_as_failed(self) -> None:
        """A delivery the provider refused counts under ``failed``."""
        metrics = Metrics()
        detail: dict[str, str | float | bool] = {"provider": "smtp", "latency_ms": 12.0}
        metrics.record(Event(EventKind.DELIVERY_FAILED, "acme", channel="email", detail=detail))
        labels = {"channel": "email", "provider": "smtp", "outcome": "failed"}
        assert 1.0 == sample(metrics, "otp_deliveries_total", **labels)

    def test_a_tripped_limit_counts_by_its_name(self) -> None:
        """A ``limit.tripped`` event counts under the limit's name."""
        metrics = Metrics()
        metrics.record(Event(EventKind.LIMIT_TRIPPED, "acme", detail={"limit": "destination"}))
        assert 1.0 == sample(metrics, "otp_limits_tripped_total", limit="destination")

    @pytest.mark.parametrize("kind", sorted(set(EventKind) - UNCOUNTED))
    def test_every_kind_of_event_is_counted(self, kind: EventKind) -> None:
        """No event kind goes uncounted by mistake (a new kind fails here until it is)."""
        metrics = Metrics()
        before = samples(metrics)
        detail: dict[str, str | float] = {"provider": "p", "latency_ms": 1.0, "limit": "l"}
        metrics.record(Event(kind, "acme", "vf_1", channel="sms", outcome="x", detail=detail))
        assert before != samples(metrics)

    def test_apps_in_one_process_count_apart(self) -> None:
        """Two Metrics never share samples (each has its own registry)."""
        first, second = Metrics(), Metrics()
        first.record(Event(EventKind.STARTED, "acme", channel="sms"))
        assert 0.0 == sample(second, "otp_verifications_started_total", channel="sms")


class TestHttpMetrics:
    """The HTTP layer counts every request, and the engine feeds the same metrics."""

    def test_a_request_counts_by_route_template(self, app: Flask, http: FlaskClient) -> None:
        """The route label is the rule's template, not the path with its id."""
        http.get("/v1/verifications/vf_" + "0" * 32, headers=auth())
        labels = {"method": "GET", "route": "/v1/verifications/<verification_id>"}
        assert 1.0 == sample(metrics_of(app), "otp_http_requests_total", status="404", **labels)
        assert 1.0 == sample(metrics_of(app), "otp_http_request_duration_seconds_count", **labels)

    def test_an_unknown_path_counts_as_unmatched(self, app: Flask, http: FlaskClient) -> None:
        """Paths that match no route share one label value, so scanners cannot blow it up."""
        http.get("/wp-login.php")
        http.get("/.env")
        labels = {"method": "GET", "route": UNMATCHED_ROUTE, "status": "404"}
        assert 2.0 == sample(metrics_of(app), "otp_http_requests_total", **labels)

    def test_an_odd_method_counts_as_other(self, app: Flask, http: FlaskClient) -> None:
        """Any string is a method to Werkzeug; the label keeps to a known few."""
        http.open("/livez", method="BREW")
        labels = {"method": "OTHER", "route": UNMATCHED_ROUTE, "status": "405"}
        assert 1.0 == sample(metrics_of(app), "otp_http_requests_total", **labels)

    def test_a_flow_counts_its_outcomes(self, app: Flask, api: Api) -> None:
        """Start, a wrong check and a right one land in started, deliveries and checks."""
        verification_id, code = api.started()
        api.check(verification_id, "000000" if code != "000000" else "111111")
        api.check(verification_id, code)
        metrics = metrics_of(app)
        assert 1.0 == sample(metrics, "otp_verifications_started_total", channel="sms")
        delivery = {"channel": "sms", "provider": "capture", "outcome": "sent"}
        assert 1.0 == sample(metrics, "otp_deliveries_total", **delivery)
        assert 1.0 == sample(metrics, "otp_checks_total", outcome="wrong_code")
        assert 1.0 == sample(metrics, "otp_checks_total", outcome="approved")

    def test_conversion_counts_by_channel_and_country(self, app: Flask, api: Api) -> None:
        """Codes sent and approvals count by channel and country (``none`` for an email)."""
        verification_id, code = api.started()
        api.check(verification_id, code)
        api.started(EMAIL, Channel.EMAIL)
        metrics = metrics_of(app)
        us_sms = {"channel": "sms", "country": "US"}
        assert 1.0 == sample(metrics, "otp_codes_sent_total", **us_sms)
        assert 1.0 == sample(metrics, "otp_verifications_approved_total", **us_sms)
        assert 1.0 == sample(metrics, "otp_codes_sent_total", channel="email", country="none")
        assert 0.0 == sample(
            metrics, "otp_verifications_approved_total", channel="email", country="none"
        )

    def test_a_tripped_rate_limit_is_counted(
        self, settings: Settings, clock: FakeClock, sender: CapturingSender
    ) -> None:
        """A start refused by a rate limit counts under the limit's name."""
        strict = replace(settings, api_keys=make_clients(Policy(destination_sends="1/hour")))
        app = create_app(strict, clock=clock, senders={Channel.SMS: sender})
        api = Api(app.test_client(), sender)
        api.started()
        clock.advance(31)
        assert 429 == api.start().status_code
        limits = metrics_of(app).registry.collect()
        tripped = [
            (s.labels["limit"], s.value)
            for family in limits
            if family.name == "otp_limits_tripped"
            for s in family.samples
            if s.name.endswith("_total")
        ]
        assert [("destination_sends", 1.0)] == tripped

    def test_a_redis_failure_is_counted(self, down_app: Flask, down_http: FlaskClient) -> None:
        """A request that fails closed on Redis counts one Redis error."""
        response = down_http.get("/v1/verifications/vf_" + "0" * 32, headers=auth())
        assert 503 == response.status_code
        assert 1.0 == sample(metrics_of(down_app), "otp_redis_errors_total")

    def test_a_failed_readiness_probe_is_counted(
        self, down_app: Flask, down_http: FlaskClient
    ) -> None:
        """``/readyz`` failing on Redis counts one Redis error too."""
        assert 503 == down_http.get("/readyz").status_code
        assert 1.0 == sample(metrics_of(down_app), "otp_redis_errors_total")


class TestMetricsEndpoint:
    """``GET /metrics`` serves the samples in Prometheus text format."""

    def test_it_is_prometheus_text(self, http: FlaskClient) -> None:
        """Without an Accept header: Prometheus text 0.0.4 (any Prometheus reads it), parseable."""
        response = http.get("/metrics")
        assert 200 == response.status_code
        assert "text/plain; version=0.0.4; charset=utf-8" == response.content_type
        names = {family.name for family in text_string_to_metric_families(response.text)}
        assert {"otp_http_requests", "otp_checks", "otp_redis_errors"} <= names

    def test_it_speaks_openmetrics_when_asked(self, http: FlaskClient) -> None:
        """A scraper that accepts OpenMetrics gets it."""
        accept = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"
        response = http.get("/metrics", headers={"Accept": accept})
        assert response.content_type.startswith("application/openmetrics-text; version=1.0.0")
        assert response.text.endswith("# EOF\n")

    def test_it_shows_what_happened(self, api: Api, http: FlaskClient) -> None:
        """A verification started through the API appears in the scrape."""
        api.started()
        families = {f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)}
        started = [
            s for s in families["otp_verifications_started"].samples if s.name.endswith("_total")
        ]
        assert [({"channel": "sms"}, 1.0)] == [(s.labels, s.value) for s in started]
