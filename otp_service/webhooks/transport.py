"""
Transport: POST one signed message to an endpoint, only where it may go (the SSRF guard).

In production an endpoint must be ``https://`` and every address its host resolves to must be
public (``ipaddress``' ``is_global``): no loopback, private, link-local (cloud metadata), shared or
reserved range. The connection then goes to the address that was checked, with the URL's host
kept for TLS (SNI and certificate) and ``Host``, so a second DNS answer cannot move it elsewhere
(DNS rebinding). Redirects are not followed. ``allow_private`` (development, tests) lifts both
rules.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import urllib3

#: Seconds to connect, and to wait for the answer: a receiver should answer at once and work later.
CONNECT_TIMEOUT_SECONDS: Final = 5.0
#: Bytes of the answer read (and ignored) before the connection is dropped.
MAX_ANSWER_BYTES: Final = 4096


class NoAnswer(Exception):
    """The receiver did not answer: refused, timed out, or TLS failed."""


class RefusedDestination(Exception):
    """The endpoint's URL or address is not one webhooks may go to."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one POST goes: the checked address, and the URL's parts for TLS and ``Host``."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def resolve(url: str, *, allow_private: bool) -> Target:
    """
    The address to POST ``url`` to, after the scheme and every resolved address pass the guard.

    Raises:
        RefusedDestination: not https (without ``allow_private``), no host, a name that does not
            resolve, or an address that is not public (without ``allow_private``).
    """
    parts = urlsplit(url)
    allowed = ("http", "https") if allow_private else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise RefusedDestination(f"only {' or '.join(allowed)} URLs with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise RefusedDestination(f"the host does not resolve ({error})") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        for address in addresses:
            if not ipaddress.ip_address(address.split("%")[0]).is_global:
                raise RefusedDestination("the host resolves to an address that is not public")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


def post(target: Target, headers: dict[str, str], body: str, timeout_seconds: float) -> int:
    """
    POST ``body`` to ``target``'s checked address; the HTTP status.

    Raises:
        NoAnswer: no answer (refused, timed out, TLS failed).
    """
    try:
        return _post(target, headers, body, timeout_seconds)
    except (OSError, urllib3.exceptions.HTTPError) as error:
        raise NoAnswer(type(error).__name__) from error


def _post(target: Target, headers: dict[str, str], body: str, timeout_seconds: float) -> int:
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=timeout_seconds)
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if ":" not in target.host else f"[{target.host}]"
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, retries=False
        )
    with pool:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body.encode(),
            headers={**headers, "host": host_header, "user-agent": "otp-service-webhooks"},
            redirect=False,
            preload_content=False,
        )
        response.read(MAX_ANSWER_BYTES)
        response.release_conn()
        return int(response.status)
