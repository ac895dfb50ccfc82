"""
Where the service's CPU goes: py-spy samples of every gunicorn worker during a phase, summarised.

py-spy (``pip install py-spy``) attaches with ptrace; it samples only threads that are on a CPU
(idle ones are left out), so the shares below are shares of CPU time, not of wall time.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

#: Where a sample's time goes: the first frame from the leaf up whose file matches, in this order.
CATEGORIES: Final = (
    ("argon2", ("argon2/", "_cffi_backend")),
    ("redis client", ("redis/", "limits/", "hiredis")),
    ("logging", ("logging/", "otp_service/ops/logs.py")),
    ("json", ("json/",)),
    ("pydantic", ("pydantic",)),
    ("templates (jinja2)", ("jinja2/", "otp_service/verify/messages.py")),
    ("phonenumbers", ("phonenumbers/",)),
    ("prometheus", ("prometheus_client/", "otp_service/ops/metrics.py")),
    ("werkzeug", ("werkzeug/",)),
    ("flask", ("flask/",)),
    ("gunicorn", ("gunicorn/",)),
    ("otp_service", ("otp_service/",)),
    ("socket, selectors, ssl", ("socket.py", "selectors.py", "ssl.py")),
)


@dataclass(slots=True)
class Profile:
    """Samples by category, by leaf function (self) and by function anywhere on the stack."""

    samples: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)


def _function(frame: str) -> str:
    """``name (path/to/file.py:12)`` → ``name (file.py)``, the unit of the summary."""
    name, _, where = frame.partition(" (")
    filename = where.rstrip(")").rsplit(":", 1)[0]
    parts = filename.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else filename
    return f"{name} ({short})"


def _category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for category, needles in CATEGORIES:
            if any(needle in frame for needle in needles):
                return category
    return "other"


def summarise(raw_files: list[Path]) -> Profile:
    """Read py-spy's ``--format raw`` (collapsed stacks: ``f1;f2;...;leaf count``)."""
    profile = Profile()
    for path in raw_files:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [frame for frame in stack.split(";") if " (" in frame]
            if not frames:
                continue
            profile.samples += count
            profile.categories[_category(frames)] += count
            profile.leaves[_function(frames[-1])] += count
            for function in {_function(frame) for frame in frames}:
                profile.inclusive[function] += count
    return profile


def as_dict(profile: Profile) -> dict[str, Any]:
    """The profile as plain JSON-able data."""
    return {
        "samples": profile.samples,
        "categories": dict(profile.categories),
        "leaves": dict(profile.leaves),
        "inclusive": dict(profile.inclusive),
    }


def merge(profiles: list[dict[str, Any]]) -> dict[str, Any]:
    """Several ``as_dict`` profiles as one."""
    total = Profile()
    for profile in profiles:
        total.samples += profile["samples"]
        total.categories.update(profile["categories"])
        total.leaves.update(profile["leaves"])
        total.inclusive.update(profile["inclusive"])
    return as_dict(total)


@contextmanager
def recording(py_spy: str, pids: list[int], seconds: float, out: Path) -> Iterator[list[Path]]:
    """Record each of ``pids`` for ``seconds`` while the block runs; yields the raw files."""
    files = [out / f"py-spy-{pid}.txt" for pid in pids]
    processes = [
        subprocess.Popen(
            [
                py_spy, "record", "--pid", str(pid), "--rate", "100",
                "--duration", str(max(int(seconds), 1)), "--format", "raw",
                "--output", str(path), "--gil",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid, path in zip(pids, files, strict=True)
    ]  # fmt: skip
    try:
        yield files
    finally:
        for process in processes:
            try:
                process.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
