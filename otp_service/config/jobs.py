"""
The job queue's and the webhooks' settings: ``OTP_WEBHOOKS`` parsed into endpoints, and the rules
the job queue's Redis obeys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import pydantic

from otp_service.config.clients import parse_json_list
from otp_service.storage.urls import redis_url_problem
from otp_service.webhooks import EVENT_TYPES, Endpoint, secret_problem

if TYPE_CHECKING:
    from otp_service.config.settings import Settings

CLUSTER_SCHEME: Final = "redis+cluster://"


class _EndpointModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    client: str = pydantic.Field(min_length=1, max_length=64)
    url: str = pydantic.Field(min_length=1, max_length=2048)
    secret: str = pydantic.Field(min_length=1, max_length=200)
    events: list[str] = pydantic.Field(min_length=1)


_ENDPOINTS: Final = pydantic.TypeAdapter(list[_EndpointModel])


def parse_webhooks(value: str, client_names: set[str]) -> tuple[tuple[Endpoint, ...], list[str]]:
    """The endpoints of ``OTP_WEBHOOKS`` and the problems with them (secrets never shown)."""
    models, problems = parse_json_list("OTP_WEBHOOKS", value, _ENDPOINTS)
    seen: set[tuple[str, str]] = set()
    for index, model in enumerate(models):
        where = f"OTP_WEBHOOKS[{index}]"
        if model.client not in client_names:
            problems.append(f"{where}.client: no client named {model.client!r} in OTP_API_KEYS")
        if _url_problem(model.url):
            problems.append(f"{where}.url {_url_problem(model.url)}")
        secret = secret_problem(model.secret)
        problems += [f"{where}.secret {secret}"] if secret else []
        unknown = sorted(set(model.events) - set(EVENT_TYPES))
        if unknown:
            problems.append(f"{where}.events: unknown types {', '.join(unknown)}")
        if (model.client, model.url) in seen:
            problems.append(f"{where}: {model.client}'s URL is listed twice")
        seen.add((model.client, model.url))
    endpoints = tuple(
        Endpoint(model.client, model.url, model.secret, frozenset(model.events)) for model in models
    )
    return (endpoints if not problems else ()), problems


def _url_problem(url: str) -> str | None:
    # The URL is not echoed: its path or query may hold the receiver's token.
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        return "has a port that is not a number from 1 to 65535"
    return "must not carry a fragment" if parts.fragment else None


def jobs_url(s: Settings) -> str:
    """The job queue's Redis: ``OTP_JOBS_REDIS_URL``, else ``OTP_REDIS_URL`` unless a Cluster."""
    if s.jobs_redis_url:
        return s.jobs_redis_url
    return "" if s.redis_url.lower().startswith(CLUSTER_SCHEME) else s.redis_url


def jobs_problems(s: Settings) -> list[str]:
    """What the job queue and the webhooks need of the other settings."""
    problems: list[str] = []
    if s.jobs_redis_url:
        problem = redis_url_problem(s.jobs_redis_url, "OTP_JOBS_REDIS_URL")
        if problem:
            problems.append(problem)
        elif s.jobs_redis_url.lower().startswith(CLUSTER_SCHEME):
            problems.append(
                "OTP_JOBS_REDIS_URL cannot be a Redis Cluster (Dramatiq's scripts use keys they "
                "do not declare): name one server or a Sentinel service"
            )
    if s.webhooks and not jobs_url(s):
        problems.append(
            "OTP_WEBHOOKS needs the job queue: OTP_REDIS_URL is a Redis Cluster, so set "
            "OTP_JOBS_REDIS_URL to one Redis server or a Sentinel service"
        )
    if not s.webhooks_allow_private:
        problems += [
            f"OTP_WEBHOOKS: {endpoint.client}'s URL must be https:// "
            "(OTP_WEBHOOKS_ALLOW_PRIVATE=true allows http:// in development)"
            for endpoint in s.webhooks
            if not endpoint.url.lower().startswith("https://")
        ]
    return problems
