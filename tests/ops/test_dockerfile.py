"""
The Docker image's recipe (no Docker engine here: hadolint lints it in ``make test``; the CMD and
HEALTHCHECK commands are run for real in test_production_server.py).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINES = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
INSTRUCTIONS = [line.strip() for line in LINES if line.strip() and not line.startswith("#")]


def instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction, in order."""
    return [line.split(None, 1)[1] for line in INSTRUCTIONS if line.split(None, 1)[0] == name]


def test_it_builds_in_two_stages_on_slim_python() -> None:
    """A build stage and a runtime stage, both python:3.11-slim."""
    assert ["python:3.11-slim AS build", "python:3.11-slim"] == instructions("FROM")


def test_it_runs_as_a_numeric_non_root_user() -> None:
    """The last USER is a numeric uid:gid other than root (runAsNonRoot can verify it)."""
    user = instructions("USER")[-1]
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user), user


def test_python_output_is_unbuffered() -> None:
    """Logs reach stdout line by line."""
    assert any("PYTHONUNBUFFERED=1" in env for env in instructions("ENV"))


def test_the_healthcheck_asks_readyz() -> None:
    """HEALTHCHECK probes /readyz with Python (the slim image has no curl)."""
    [healthcheck] = instructions("HEALTHCHECK")
    assert "/readyz" in healthcheck
    assert 'CMD ["python", "-c"' in healthcheck


def test_the_command_is_gunicorn_with_the_shipped_config() -> None:
    """The image runs exactly gunicorn -c gunicorn.conf.py wsgi:app."""
    assert ['["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]'] == instructions("CMD")


def test_the_build_context_keeps_what_the_image_copies() -> None:
    """Every file COPY takes from the context survives .dockerignore (which excludes the rest)."""
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        source.rstrip("/")
        for arguments in instructions("COPY")
        if not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    ]
    assert sources
    assert [] == [source for source in sources if not _kept(source, rules)]


def _kept(path: str, rules: list[str]) -> bool:
    kept = True
    for rule in rules:  # the last matching rule wins, as in Docker
        negated = rule.startswith("!")
        if fnmatch.fnmatch(path, rule.removeprefix("!").rstrip("/")):
            kept = negated
    return kept
