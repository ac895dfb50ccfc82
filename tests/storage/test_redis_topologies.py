"""
Redis topologies chosen by URL, with no code change: URL forms, fail-closed without I/O at start,
the core flow and the concurrency invariants on a real 3-master Redis Cluster, and a Sentinel
failover the app follows by itself.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.errors import StoreUnavailable
from otp_service.core.models import Channel
from otp_service.storage.connection import connect
from otp_service.storage.embedded_redis import free_port
from otp_service.verify.store import RedisStore
from tests.servers.topologies import LocalCluster, LocalSentinel
from tests.support import NAME_KEY, Api, CapturingSender, FakeClock, auth


def phone() -> str:
    """A destination of this test's own (limits per destination never meet across tests)."""
    return f"+1415555{secrets.randbelow(10_000):04d}"


class TestUrls:
    """``connect`` reads the topology from the URL, and says what is wrong with a bad one."""

    @pytest.mark.parametrize(
        ("url", "complaint"),
        [
            ("redis+sentinel://127.0.0.1:26379", "/<service name>"),
            ("redis+sentinel://127.0.0.1:26379/otp/0", "/<service name>"),
            ("redis+sentinel://127.0.0.1/otp", "host:port"),
            ("redis+cluster://127.0.0.1:7000,127.0.0.1", "host:port"),
            ("redis+cluster://127.0.0.1:7000/1", "no path"),
            ("redis+cluster://127.0.0.1:7000?ssl=true", "no query"),
        ],
    )
    def test_a_malformed_url_is_refused(self, url: str, complaint: str) -> None:
        """Each malformed Sentinel or Cluster URL raises ValueError saying what is wrong."""
        with pytest.raises(ValueError, match=complaint.replace("?", r"\?")) as raised:
            connect(url, 1.0)
        assert url.split("://")[0] in str(raised.value)

    def test_a_refusal_does_not_show_the_password(self) -> None:
        """The error names the bad part of the URL, never its password."""
        with pytest.raises(ValueError, match="host:port") as raised:
            connect("redis+sentinel://:hunter2-secret@127.0.0.1:x/otp", 1.0)
        assert "hunter2-secret" not in str(raised.value)

    @pytest.mark.parametrize("scheme", ["redis+cluster", "redis+sentinel"])
    def test_an_unreachable_topology_fails_closed(self, scheme: str) -> None:
        """Making the client does no I/O; using it while nothing answers is StoreUnavailable."""
        url = f"{scheme}://127.0.0.1:{free_port()},127.0.0.1:{free_port()}/otp"
        url = url.removesuffix("/otp") if scheme == "redis+cluster" else url
        started = time.monotonic()
        store = RedisStore(connect(url, 0.5), "t", name_key=NAME_KEY)
        assert time.monotonic() - started < 0.5
        with pytest.raises(StoreUnavailable):
            store.ping()


# A 3-master Redis Cluster ------------------------------------------------------------------------


@pytest.fixture(name="cluster", scope="module")
def _cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster(replicas=1).start()
    yield cluster
    cluster.stop()


def topology_app(settings: Settings, url: str, clock: FakeClock, sender: CapturingSender) -> Flask:
    """The app with ``settings`` on the Redis of ``url``: nothing else changes."""
    senders = {Channel.SMS: sender, Channel.EMAIL: sender}
    return create_app(replace(settings, redis_url=url), clock=clock, senders=senders)


@pytest.fixture(name="cluster_api")
def _cluster_api(
    cluster: LocalCluster, settings: Settings, clock: FakeClock, sender: CapturingSender
) -> Api:
    return Api(topology_app(settings, cluster.url, clock, sender).test_client(), sender)


class TestCluster:
    """The service on a Redis Cluster: same code, ``redis+cluster://`` URL."""

    def test_it_is_ready(self, cluster_api: Api) -> None:
        """/readyz: the cluster answers and every master holds the scripts."""
        response = cluster_api.http.get("/readyz")
        assert 200 == response.status_code
        assert {"redis", "scripts"} <= set(response.get_json()["ok"])

    def test_a_right_code_approves_after_a_wrong_one(self, cluster_api: Api) -> None:
        """Start, a wrong check (valid: false), then the right code approves."""
        to = phone()
        verification_id, code = cluster_api.started(to)
        wrong = "000000" if code != "000000" else "111111"
        first = cluster_api.check(verification_id, wrong).get_json()
        second = cluster_api.check(verification_id, code).get_json()
        assert (False, 4) == (first["valid"], first["attempts_remaining"])
        assert (True, "approved") == (second["valid"], second["status"])

    def test_a_resend_keeps_the_id_and_replaces_the_code(
        self, cluster_api: Api, clock: FakeClock
    ) -> None:
        """A second start after the cooldown resends: same id, new code, the old one invalid."""
        to = phone()
        verification_id, old_code = cluster_api.started(to)
        clock.advance(31)
        resent = cluster_api.start(to)
        new_code = cluster_api.sender.last_code(to)
        assert (200, verification_id) == (resent.status_code, resent.get_json()["id"])
        if old_code != new_code:
            assert False is cluster_api.check(verification_id, old_code).get_json()["valid"]
        assert "approved" == cluster_api.check(verification_id, new_code).get_json()["status"]

    def test_conversion_figures_are_counted_and_read(self, cluster_api: Api) -> None:
        """The counting script (two keys under one hash tag) runs on the cluster, and a read
        gathers the hours of every client from whichever masters hold them."""
        verification_id, code = cluster_api.started(phone())
        cluster_api.check(verification_id, code)
        query = {"by": "channel"}
        response = cluster_api.http.get(
            "/v1/insights/conversion", query_string=query, headers=auth()
        )
        rows = response.get_json()["rows"]
        assert [("sms", 1, 1)] == [(row["key"], row["sent"], row["approved"]) for row in rows]

    def test_a_canceled_verification_cannot_be_checked(self, cluster_api: Api) -> None:
        """Cancel answers the verification canceled; its code then gets 404."""
        verification_id, code = cluster_api.started(phone())
        canceled = cluster_api.http.post(
            f"/v1/verifications/{verification_id}/cancel", headers=auth()
        )
        assert "canceled" == canceled.get_json()["status"]
        assert 404 == cluster_api.check(verification_id, code).status_code

    def test_a_check_by_destination_approves(self, cluster_api: Api) -> None:
        """The destination index (another slot than the verification) finds the verification."""
        to = phone()
        verification_id, code = cluster_api.started(to)
        body = {"to": to, "channel": "sms", "code": code}
        response = cluster_api.http.post("/v1/verification-checks", json=body, headers=auth())
        assert {"id": verification_id, "status": "approved"} == {
            key: response.get_json()[key] for key in ("id", "status")
        }

    def test_the_dev_outbox_works_on_the_cluster(
        self, cluster: LocalCluster, settings: Settings, clock: FakeClock
    ) -> None:
        """The dev sender's outbox (one list key, written in a pipeline) works on a cluster."""
        app = create_app(replace(settings, redis_url=cluster.url), clock=clock)
        to = phone()
        app.test_client().post(
            "/v1/verifications", json={"to": to, "channel": "sms"}, headers=auth()
        )
        messages = app.test_client().get("/dev/outbox.json").get_json()["messages"]
        assert [to] == [message["to"] for message in messages]

    def test_verifications_spread_over_the_masters(
        self, cluster: LocalCluster, cluster_api: Api, settings: Settings
    ) -> None:
        """Keys land on more than one master: the cluster really shards them."""
        for _ in range(12):
            cluster_api.started(phone())
        counts = cluster.keys_per_node(f"{settings.redis_prefix}:vf:*")
        assert 12 == sum(counts)
        assert sum(1 for count in counts if count) >= 2


def parallel(count: int, call: Callable[[], Any]) -> list[Any]:
    """``call`` from ``count`` threads at once; the results."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


class TestClusterConcurrency:
    """The invariants (docs/architecture.md) hold on the cluster under parallel checks."""

    def test_fifty_right_checks_approve_once(self, cluster_api: Api) -> None:
        """50 parallel checks of the right code: exactly one approves, none errs."""
        verification_id, code = cluster_api.started(phone())
        app = cluster_api.http.application

        def check() -> tuple[int, str | None]:
            client = app.test_client()
            path = f"/v1/verifications/{verification_id}/check"
            response = client.post(path, json={"code": code}, headers=auth())
            return response.status_code, (response.get_json() or {}).get("status")

        outcomes = Counter(parallel(50, check))
        assert 1 == outcomes[200, "approved"]
        assert set() == {status for status, _ in outcomes if status >= 500}

    def test_a_hundred_wrong_checks_count_at_most_max_attempts(self, cluster_api: Api) -> None:
        """100 parallel wrong checks: exactly max_attempts (5) are counted, the rest are 429."""
        verification_id, code = cluster_api.started(phone())
        wrong = "000000" if code != "000000" else "111111"
        app = cluster_api.http.application

        def check() -> int:
            client = app.test_client()
            path = f"/v1/verifications/{verification_id}/check"
            return client.post(path, json={"code": wrong}, headers=auth()).status_code

        assert {200: 5, 429: 95} == dict(Counter(parallel(100, check)))
        read = cluster_api.http.get(f"/v1/verifications/{verification_id}", headers=auth())
        assert (0, "max_attempts_reached") == (
            read.get_json()["attempts_remaining"],
            read.get_json()["status"],
        )


# Sentinel ----------------------------------------------------------------------------------------


@pytest.fixture(name="sentinel")
def _sentinel() -> Iterator[LocalSentinel]:
    sentinel = LocalSentinel().start()
    yield sentinel
    sentinel.stop()


class TestSentinel:
    """The service behind Sentinel: same code, ``redis+sentinel://`` URL."""

    def test_the_flow_runs_on_the_master_sentinel_names(
        self, sentinel: LocalSentinel, settings: Settings, clock: FakeClock, sender: CapturingSender
    ) -> None:
        """Start and check through the master the Sentinel names (password from the URL)."""
        api = Api(topology_app(settings, sentinel.url, clock, sender).test_client(), sender)
        verification_id, code = api.started(phone())
        assert "approved" == api.check(verification_id, code).get_json()["status"]

    def test_a_failover_is_followed_without_a_restart(
        self, sentinel: LocalSentinel, settings: Settings, clock: FakeClock, sender: CapturingSender
    ) -> None:
        """A code sent before the master dies is approved by the promoted replica, same app."""
        # The promoted replica has no replica of its own: with writes acknowledged (the default)
        # every write would be a 503, rightly. Following the failover is what is tested here.
        settings = replace(settings, redis_wait_replicas=0)
        api = Api(topology_app(settings, sentinel.url, clock, sender).test_client(), sender)
        verification_id, code = api.started(phone())
        sentinel.fail_over()
        assert 200 == api.http.get("/readyz").status_code
        assert "approved" == api.check(verification_id, code).get_json()["status"]
