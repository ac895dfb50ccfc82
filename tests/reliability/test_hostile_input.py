"""
Hostile input over real HTTP through gunicorn, where the Flask test client cannot show it: raw
control characters in headers, unnormalised ``..`` paths, absurd or contradictory lengths, broken
chunked bodies, look-alike digits, slow clients. Each is answered with a clear 4xx, never a 5xx
(invariant 8 of docs/architecture.md).
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import redis
import requests

from otp_service.web.problems import PROBLEM_MEDIA_TYPE
from tests.gunicorn_server import running_gunicorn
from tests.reliability.support import BEARER, faulty_environ, new_phone
from tests.support import KEYS

pytestmark = pytest.mark.gunicorn
UNKNOWN_ID = "vf_" + "0" * 32
AUTHORIZATION = f"Authorization: Bearer {KEYS['acme']}\r\n".encode()
HOST = b"Host: 127.0.0.1\r\nConnection: close\r\n"


@dataclass(frozen=True)
class RawResponse:
    """What came back on a raw connection."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    @property
    def is_problem(self) -> bool:
        """An RFC 9457 problem from the app (not gunicorn's own HTML error page)."""
        return PROBLEM_MEDIA_TYPE == self.headers.get("content-type")


def exchange(base: str, request: bytes, *, half_close: bool = False) -> RawResponse:
    """Send ``request`` as bytes, exactly; read the whole answer (the server closes)."""
    host, port = base.removeprefix("http://").split(":")
    began = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body, time.monotonic() - began)


def post(path: str, body: bytes, *headers: bytes) -> bytes:
    """A raw authenticated POST of a JSON ``body`` (headers given as ``b"Name: value"``)."""
    extra = b"".join(header + b"\r\n" for header in headers)
    return (
        b"POST " + path.encode() + b" HTTP/1.1\r\n" + HOST + AUTHORIZATION
        + b"Content-Type: application/json\r\n" + extra + b"\r\n" + body
    )  # fmt: skip


def get(path: bytes, *headers: bytes) -> bytes:
    """A raw authenticated GET of ``path``, sent as is (no normalisation)."""
    extra = b"".join(header + b"\r\n" for header in headers)
    return b"GET " + path + b" HTTP/1.1\r\n" + HOST + AUTHORIZATION + extra + b"\r\n"


@pytest.fixture(name="base", scope="module")
def _base(redis_url: str) -> Iterator[str]:
    """gunicorn (1 worker, 4 threads) serving the development app on the session Redis."""
    prefix = "hi" + secrets.token_hex(4)
    try:
        with running_gunicorn(faulty_environ(redis_url, prefix), workers=1, threads=4) as base:
            yield base
    finally:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(name="verification_id")
def _verification_id(base: str) -> str:
    """A pending verification of a fresh number."""
    response = requests.post(
        f"{base}/v1/verifications",
        json={"to": new_phone(), "channel": "sms"},
        headers=BEARER,
        timeout=10,
    )
    assert 201 == response.status_code, response.text
    verification_id: str = response.json()["id"]
    return verification_id


def attempts_remaining(base: str, verification_id: str) -> int:
    """``attempts_remaining`` of a verification, read over HTTP."""
    response = requests.get(f"{base}/v1/verifications/{verification_id}", headers=BEARER, timeout=5)
    remaining: int = response.json()["attempts_remaining"]
    return remaining


class TestHeaderInjection:
    """Control characters and unsafe values in headers."""

    @pytest.mark.parametrize("control", [b"\r", b"\n", b"\x00"], ids=["CR", "LF", "NUL"])
    def test_control_character_in_a_header_value_is_400(self, base: str, control: bytes) -> None:
        """A bare CR, LF or NUL inside a header value is refused; nothing is injected."""
        response = exchange(base, get(b"/livez", b"X-Request-ID: a" + control + b"Injected: 1"))
        assert 400 == response.status
        assert "injected" not in response.headers

    @pytest.mark.parametrize(
        "sent",
        [b"a b", b"<script>alert(1)</script>", b"x" * 200, b"caf\xe9", b"a\tb"],
        ids=["space", "markup", "too-long", "latin-1", "tab"],
    )
    def test_unsafe_request_id_is_replaced(self, base: str, sent: bytes) -> None:
        """An X-Request-ID unsafe for headers and logs is not echoed: a new id is issued."""
        response = exchange(base, get(b"/livez", b"X-Request-ID: " + sent))
        assert (200, True) == (
            response.status,
            bool(re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])),
        )

    def test_non_ascii_api_key_is_401(self, base: str) -> None:
        """An Authorization header of raw non-ASCII bytes is an unknown key: 401 problem."""
        request = get(f"/v1/verifications/{UNKNOWN_ID}".encode()).replace(
            AUTHORIZATION, b"Authorization: Bearer \xff\xfe\xe9\r\n"
        )
        response = exchange(base, request)
        assert (401, True) == (response.status, response.is_problem)

    @pytest.mark.parametrize(
        "body",
        [
            {"to": "alice@example.com\r\nBcc: evil@example.com", "channel": "email"},
            {"to": "+14155550100\r\nX-Injected: 1", "channel": "sms"},
            {"to": "+14155550100", "channel": "sms", "locale": "en\r\nX-Injected: 1"},
            {"to": "+14155550100", "channel": "sms", "locale": "en\u2028fr"},
        ],
        ids=["email-bcc", "phone-header", "locale-header", "locale-line-separator"],
    )
    def test_line_breaks_in_destination_or_locale_are_422(
        self, base: str, body: dict[str, str]
    ) -> None:
        """A destination or locale carrying a line break is a 422 validation problem."""
        response = requests.post(f"{base}/v1/verifications", json=body, headers=BEARER, timeout=10)
        assert (422, PROBLEM_MEDIA_TYPE) == (
            response.status_code,
            response.headers["Content-Type"],
        )


LOOK_ALIKE_CODES = {
    "fullwidth": "\uff11\uff12\uff13\uff14\uff15\uff16",
    "arabic-indic": "\u0661\u0662\u0663\u0664\u0665\u0666",
    "devanagari": "\u0967\u0968\u0969\u096a\u096b\u096c",
    "superscript": "\u00b9\u00b2\u00b3\u2074\u2075\u2076",
    "circled": "\u2460\u2461\u2462\u2463\u2464\u2465",
    "math-bold": "\U0001d7cf\U0001d7d0\U0001d7d1\U0001d7d2\U0001d7d3\U0001d7d4",
    "one-arabic-digit": "12345\u0666",
}


class TestLookAlikeDigits:
    """Digits of other scripts that ``int()`` or ``str.isdigit()`` would accept."""

    @pytest.mark.parametrize("code", LOOK_ALIKE_CODES.values(), ids=LOOK_ALIKE_CODES.keys())
    def test_look_alike_code_is_422_and_costs_no_attempt(
        self, base: str, verification_id: str, code: str
    ) -> None:
        """A code of look-alike digits is a 422, and the verification keeps every attempt."""
        response = requests.post(
            f"{base}/v1/verifications/{verification_id}/check",
            json={"code": code},
            headers=BEARER,
            timeout=10,
        )
        assert (422, 5) == (response.status_code, attempts_remaining(base, verification_id))

    @pytest.mark.parametrize(
        "phone",
        [
            "+\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10",
            "+1415555\u0660\u0661\u0660\u0660",
        ],
        ids=["fullwidth", "mixed"],
    )
    def test_look_alike_phone_is_422(self, base: str, phone: str) -> None:
        """A phone number written with look-alike digits is refused, not normalised."""
        response = requests.post(
            f"{base}/v1/verifications",
            json={"to": phone, "channel": "sms"},
            headers=BEARER,
            timeout=10,
        )
        assert 422 == response.status_code

    def test_look_alike_id_is_404(self, base: str) -> None:
        """An id written with fullwidth digits names nothing: 404 problem."""
        path = quote("/v1/verifications/vf_" + "\uff10" * 32)
        response = exchange(base, get(path.encode()))
        assert (404, True) == (response.status, response.is_problem)


TRAVERSALS = [
    b"/v1/verifications/../../etc/passwd",
    b"/v1/verifications/..%2F..%2Fetc%2Fpasswd",
    b"/v1/verifications/%2e%2e/%2e%2e/etc/passwd",
    b"/v1/verifications/..%5C..%5Cwsgi.py",
    b"/static/..%2f..%2fwsgi.py",
    b"/v1/verifications/" + UNKNOWN_ID.encode() + b"%00",
    b"/v1/verifications/" + UNKNOWN_ID.encode() + b"%0A",
    b"/v1/verifications/" + UNKNOWN_ID.encode() + b"/..%2F..%2Fcancel",
]


class TestPathTraversal:
    """Ids that try to leave their place in the path or the key space."""

    @pytest.mark.parametrize("path", TRAVERSALS, ids=[p.decode() for p in TRAVERSALS])
    def test_traversal_is_a_404_problem(self, base: str, path: bytes) -> None:
        """A traversing path is a 404 problem; no file and no other resource is served."""
        response = exchange(base, get(path))
        assert (404, True) == (response.status, response.is_problem)
        assert b"root:" not in response.body
        assert b"create_app" not in response.body

    def test_traversal_in_a_check_is_a_404_problem(self, base: str) -> None:
        """POST .../<traversal>/check is a 404 problem too (no attempt anywhere)."""
        path = "/v1/verifications/..%2F..%2Fetc%2Fpasswd/check"
        response = exchange(base, post(path, b'{"code": "123456"}', b"Content-Length: 18"))
        assert (404, True) == (response.status, response.is_problem)


class TestBodies:
    """Lengths that lie, bodies that never end or do not parse."""

    def test_absurd_content_length_is_413_at_once(self, base: str) -> None:
        """A Content-Length of a petabyte is refused before any body is read."""
        response = exchange(
            base, post("/v1/verifications", b"{}", b"Content-Length: 1000000000000000")
        )
        assert (413, True) == (response.status, response.is_problem)
        assert response.elapsed < 1.0

    def test_body_over_16_kib_is_413(self, base: str) -> None:
        """A 1 MiB body is a 413 problem."""
        body = b" " * 1024 * 1024
        response = exchange(
            base, post("/v1/verifications", body, f"Content-Length: {len(body)}".encode())
        )
        assert (413, True) == (response.status, response.is_problem)

    @pytest.mark.parametrize(
        "lengths",
        [
            [b"Content-Length: -1"],
            [b"Content-Length: abc"],
            [b"Content-Length: 2, 2"],
            [b"Content-Length: 2", b"Content-Length: 3"],
            [b"Content-Length: 2", b"Transfer-Encoding: chunked"],
        ],
        ids=["negative", "not-a-number", "list", "twice", "with-chunked"],
    )
    def test_contradictory_length_is_400(self, base: str, lengths: list[bytes]) -> None:
        """An unreadable or ambiguous length (a request-smuggling shape) is a 400."""
        response = exchange(base, post("/v1/verifications", b"{}", *lengths))
        assert 400 == response.status

    def test_body_cut_short_is_400(self, base: str) -> None:
        """A client that sends less than its Content-Length and stops sending gets a 400."""
        response = exchange(
            base,
            post("/v1/verifications", b'{"to": ', b"Content-Length: 100"),
            half_close=True,
        )
        assert (400, True) == (response.status, response.is_problem)

    @pytest.mark.parametrize(
        "chunks",
        [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n", b"2;\rx\r\n{}\r\n0\r\n\r\n", b"10\r\n{"],
        ids=["bad-size", "no-terminator", "bad-extension", "cut-short"],
    )
    def test_malformed_chunked_body_is_400(self, base: str, chunks: bytes) -> None:
        """A chunked body that does not parse is a 400 problem, not a server error."""
        response = exchange(
            base,
            post("/v1/verifications", chunks, b"Transfer-Encoding: chunked"),
            half_close=True,
        )
        assert (400, True) == (response.status, response.is_problem)


class TestUnknownV2Paths:
    """The Twilio Verify face answers unknown resources in Twilio's shape (its document)."""

    def test_unknown_resource_is_twilio_shaped(self, base: str) -> None:
        """GET /v2/<unknown> is a 404 with Twilio's error body (code 20404)."""
        response = exchange(base, get(b"/v2/nothing-here"))
        assert (404, "application/json") == (response.status, response.headers["content-type"])
        assert b'"code":20404' in response.body

    def test_unknown_resource_with_a_line_break_is_twilio_shaped(self, base: str) -> None:
        """GET /v2/a%0Ab (a line break inside) is Twilio's 404 too, as documented."""
        response = exchange(base, get(b"/v2/a%0Ab"))
        assert (404, "application/json") == (response.status, response.headers["content-type"])


@pytest.mark.slow
class TestSlowClients:
    """Clients that send part of a request and then nothing (slowloris)."""

    @pytest.mark.xfail(
        strict=True,
        raises=requests.Timeout,
        reason=(
            "BUG (deployment): gunicorn's gthread worker reads a started request in a worker "
            "thread with a blocking socket and no read timeout (its `timeout` only watches the "
            "worker's heartbeat), so workers x threads slow clients hold every thread for as "
            "long as they like and the service answers nothing else"
        ),
    )
    @pytest.mark.parametrize(
        "partial",
        [
            b"POST /v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\n",
            b"POST /v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTHORIZATION
            + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"to\"",
        ],
        ids=["partial-headers", "partial-body"],
    )  # fmt: skip
    def test_slow_clients_do_not_starve_the_service(self, redis_url: str, partial: bytes) -> None:
        """With every thread facing a slow client, /livez is still answered within 5 s."""
        environ = faulty_environ(redis_url, "slow" + secrets.token_hex(4))
        with running_gunicorn(environ, workers=1, threads=2) as base:
            host, port = base.removeprefix("http://").split(":")
            held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(2)]
            try:
                for connection in held:
                    connection.sendall(partial)
                time.sleep(0.5)
                assert 200 == requests.get(f"{base}/livez", timeout=5).status_code
            finally:
                for connection in held:
                    connection.close()
