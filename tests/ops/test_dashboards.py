"""
The Grafana dashboard and the Prometheus rules in ``deploy/``: promtool accepts the rules and
their unit tests pass, every dashboard query is valid PromQL, and every metric either uses is one
a running instance serves at ``/metrics``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "otp-service.rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "otp-service.rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "otp-service.json"
#: Our metric names in a query; recorded series (``country:otp_...:ratio1h``) are not metrics.
_METRIC = re.compile(r"(?<![\w:])otp_[a-z0-9_]+(?![\w:])")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
#: Grafana's variables, as a query would read once Grafana filled them in.
_VARIABLES = {"$__rate_interval": "5m", "$country": ".*"}
#: The samples each type of metric is served as.
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not found: scripts/ensure-tools installs Debian's prometheus package")
    return found


def _run(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *map(str, arguments)], capture_output=True, text=True, timeout=120
    )


def _dashboard_queries() -> Iterator[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            yield target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["definition"]


def _rule_queries() -> Iterator[str]:
    for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            yield rule["expr"]


def metric_names(query: str) -> set[str]:
    """The metric names a PromQL query reads (not words inside its strings: label values)."""
    return set(_METRIC.findall(_STRING.sub('""', query)))


def served_names(exposition: str) -> set[str]:
    """Every sample name an exposition serves, or would once its labelled metrics have samples."""
    return {
        family.name + suffix
        for family in text_string_to_metric_families(exposition)
        for suffix in _SUFFIXES.get(family.type, ("",))
    }


def test_the_rules_pass_promtool_check() -> None:
    """``promtool check rules`` accepts the rules file."""
    checked = _run("check", "rules", RULES)
    assert 0 == checked.returncode, checked.stdout + checked.stderr


def test_the_alerts_fire_as_their_unit_tests_say() -> None:
    """``promtool test rules``: conversion drop, delivery failures, Redis, job backlog."""
    tested = _run("test", "rules", RULE_TESTS)
    assert 0 == tested.returncode, tested.stdout + tested.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """Each panel's query, its variables filled in, parses (as a recording rule promtool checks)."""
    rules = []
    for number, query in enumerate(_dashboard_queries()):
        for variable, value in _VARIABLES.items():
            query = query.replace(variable, value)
        if not query.startswith("label_values("):
            rules.append({"record": f"dashboard:query_{number}", "expr": query})
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = _run("check", "rules", path)
    assert 0 == checked.returncode, checked.stdout + checked.stderr


def test_every_metric_used_is_served(http: FlaskClient) -> None:
    """Every metric the dashboard or the rules read is in a running instance's ``/metrics``."""
    used = set().union(*map(metric_names, [*_dashboard_queries(), *_rule_queries()]))
    served = served_names(http.get("/metrics").get_data(as_text=True))
    assert set() == used - served


class TestNameFinding:
    def test_finds_metrics_not_recorded_series(self) -> None:
        """Metric names are found; recorded series and label values are not metrics."""
        query = (
            'sum(rate(otp_codes_sent_total{route="otp_x"}[5m])) / country:otp_conversion:ratio1h'
        )
        assert {"otp_codes_sent_total"} == metric_names(query)

    def test_served_names_expand_by_type(self) -> None:
        """A counter is served as ``_total``, a histogram as its buckets, sum and count."""
        exposition = (
            "# HELP a_total A.\n# TYPE a_total counter\n"
            "# HELP b_seconds B.\n# TYPE b_seconds histogram\n"
        )
        expected = {"a_total", "b_seconds_bucket", "b_seconds_sum", "b_seconds_count"}
        assert expected == served_names(exposition)
