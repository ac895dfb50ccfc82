"""WebhookDelivery: one try per job run, the retry schedule, 410, and the SSRF guard."""

from __future__ import annotations

import pytest

from otp_service.jobs import GiveUp, RetryLater
from otp_service.services import Services
from otp_service.webhooks import RETRY_SCHEDULE
from otp_service.webhooks.transport import RefusedDestination, resolve
from tests.webhooks.receiver import Receiver

BODY = '{"type":"verification.approved","timestamp":"2027-01-15T08:00:00.000Z","data":{}}'


def _payload(services: Services, webhook_id: str = "msg_1") -> dict[str, str]:
    (endpoint,) = services.settings.webhooks
    return {"endpoint": endpoint.id, "webhook_id": webhook_id, "body": BODY}


class TestSchedule:
    """Each failed try asks for the next delay of Standard Webhooks' schedule."""

    def test_the_schedule_is_the_specifications(self) -> None:
        """At once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h."""
        assert (0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000) == RETRY_SCHEDULE

    @pytest.mark.parametrize("attempt", range(1, 8))
    def test_a_failed_try_asks_for_the_next_delay(
        self, hook_services: Services, receiver: Receiver, attempt: int
    ) -> None:
        """Try n answered 500: the next comes after the schedule's delay n."""
        receiver.statuses = [500]
        assert hook_services.outbound is not None
        with pytest.raises(RetryLater) as later:
            hook_services.outbound.delivery.deliver(_payload(hook_services), attempt)
        assert RETRY_SCHEDULE[attempt] == later.value.delay_seconds

    def test_the_eighth_failed_try_gives_up(
        self, hook_services: Services, receiver: Receiver
    ) -> None:
        """After the last try the job fails for good (dead-lettered)."""
        receiver.statuses = [503]
        assert hook_services.outbound is not None
        with pytest.raises(GiveUp):
            hook_services.outbound.delivery.deliver(_payload(hook_services), 8)


def test_410_disables_the_endpoint(hook_services: Services, receiver: Receiver) -> None:
    """An endpoint that answered 410 Gone gets nothing more, and that try is not retried."""
    assert hook_services.outbound is not None
    receiver.statuses = [410]
    hook_services.outbound.delivery.deliver(_payload(hook_services, "msg_1"), 1)
    hook_services.outbound.delivery.deliver(_payload(hook_services, "msg_2"), 1)
    assert ["msg_1"] == [item.headers["webhook-id"] for item in receiver.received]


def test_a_delivered_message_is_not_sent_again(hook_services: Services, receiver: Receiver) -> None:
    """The same job run twice (at-least-once) posts once."""
    assert hook_services.outbound is not None
    for _ in range(2):
        hook_services.outbound.delivery.deliver(_payload(hook_services), 1)
    assert 1 == len(receiver.received)


class TestGuard:
    """Only https:// to public addresses, unless private addresses are allowed."""

    @pytest.mark.parametrize(
        "url",
        [
            "http://93.184.216.34/hook",
            "https://127.0.0.1/hook",
            "https://localhost/hook",
            "https://10.1.2.3/hook",
            "https://172.16.0.1/hook",
            "https://192.168.1.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/hook",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://0.0.0.0/hook",
            "ftp://93.184.216.34/hook",
        ],
    )
    def test_refused_in_production(self, url: str) -> None:
        """Plain http, loopback, private, link-local, shared and unspecified addresses: refused."""
        with pytest.raises(RefusedDestination):
            resolve(url, allow_private=False)

    def test_a_public_https_address_is_taken(self) -> None:
        """A public address over https: the POST goes to that very address."""
        target = resolve("https://93.184.216.34:8443/hook?t=1", allow_private=False)
        assert ("93.184.216.34", 8443, "/hook?t=1") == (target.address, target.port, target.path)

    def test_private_addresses_when_allowed(self) -> None:
        """OTP_WEBHOOKS_ALLOW_PRIVATE: http to loopback is taken."""
        target = resolve("http://127.0.0.1:9/hook", allow_private=True)
        assert ("http", "127.0.0.1") == (target.scheme, target.address)
