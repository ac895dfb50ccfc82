"""
The URL settings' rules (scheme, host, port), shared by ``Settings`` and the code that uses them.

Each ``*_url_problem`` function returns a one-line problem naming the variable, or None.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import SplitResult, urlsplit

#: Every scheme ``OTP_REDIS_URL`` may have (one server, TLS, a socket, Sentinel, Cluster).
REDIS_URL_SCHEMES: Final = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster")
HTTP_URL_SCHEMES: Final = ("http", "https")


def _schemes(schemes: tuple[str, ...]) -> str:
    return ", ".join(f"{scheme}://" for scheme in schemes)


def _port_problem(parts: SplitResult) -> str | None:
    try:
        port = parts.port
    except ValueError:
        return "has a port that is not a number from 1 to 65535"
    if port == 0:
        return "has port 0"
    return None


def _multi_host_problem(parts: SplitResult) -> str | None:
    """Sentinel and Cluster URLs list ``host:port`` pairs, comma-separated."""
    if parts.query or parts.fragment:
        return "takes no query or fragment"
    locations = parts.netloc.rpartition("@")[2]
    for location in locations.split(","):
        node = urlsplit(f"//{location.strip()}")
        if not node.hostname or _port_problem(node) or node.port is None:
            return f"lists host:port pairs (got {location!r})"
    path = parts.path.strip("/")
    if parts.scheme == "redis+sentinel" and (not path or "/" in path):
        return "ends with /<service name> (and names no database)"
    if parts.scheme == "redis+cluster" and path:
        return "takes no path (a Redis Cluster has only database 0)"
    return None


def _single_server_problem(parts: SplitResult) -> str | None:
    if parts.scheme == "unix":
        return None if parts.path else "names no socket path (unix:///path/to/redis.sock)"
    if not parts.hostname:
        return "names no host"
    database = parts.path.strip("/")
    if database and not database.isdigit():
        return f"names database {database!r}, not a number"
    return _port_problem(parts)


def redis_url_problem(url: str, variable: str = "OTP_REDIS_URL") -> str | None:
    """What is wrong with a Redis URL, in one line, or None when the runtime can use it."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in REDIS_URL_SCHEMES:
        return (
            f"{variable} must start with one of {_schemes(REDIS_URL_SCHEMES)} (got {_shown(url)})"
        )
    parts = urlsplit(url)
    if scheme in ("redis+sentinel", "redis+cluster"):
        problem = _multi_host_problem(parts)
    else:
        problem = _single_server_problem(parts)
    return f"{variable} {problem} ({_shown(url)})" if problem else None


def check_redis_url(url: str) -> None:
    """
    Refuse a Redis URL the service cannot use.

    Raises:
        ValueError: the one-line problem of ``redis_url_problem``.
    """
    problem = redis_url_problem(url)
    if problem is not None:
        raise ValueError(problem)


def http_url_problem(url: str, variable: str) -> str | None:
    """What is wrong with an ``http(s)://host[:port][/path]`` URL, in one line, or None."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in HTTP_URL_SCHEMES:
        problem = f"must start with one of {_schemes(HTTP_URL_SCHEMES)}"
    elif not parts.hostname:
        problem = "names no host"
    elif parts.query or parts.fragment:
        problem = "takes no query or fragment"
    else:
        problem = _port_problem(parts) or ""
    return f"{variable} {problem} (got {url!r})" if problem else None


def host_problem(host: str, variable: str) -> str | None:
    """What is wrong with a bare host name or address (no scheme, no port), or None."""
    if "://" in host or "/" in host or any(c.isspace() for c in host):
        return f"{variable} must be a host name or address only, no scheme or path (got {host!r})"
    if host.count(":") == 1:
        return f"{variable} must not carry a port: set the port on its own (got {host!r})"
    return None


def _shown(url: str) -> str:
    """``url`` quoted, without a password (Redis URLs carry one)."""
    parts = urlsplit(url)
    try:
        password = parts.password
    except ValueError:
        password = None
    if password:
        url = url.replace(f":{password}@", ":<redacted>@", 1)
    return repr(url)
