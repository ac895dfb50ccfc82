"""
The repository stands alone: nothing in its build, tests or docs reads a path outside it.

A clone on another machine has no sibling folders, so a reference such as ``../shared/...`` or
``REPO / ".." / ...`` would stop the suite there (as it once did, at collection).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# A folder beside the repository named as a path: `../shared/...`, `REPO / ".." / ...` or
# `... / "shared" / ...`.
_OUTSIDE = re.compile(r"""\.\./shared\b|["']\.\.["']\s*/|/\s*["']shared["']""")
_TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".yml", ".yaml", ".sh", ".html", ".conf", ""}


def tracked_text_files() -> list[Path]:
    """The repository's tracked text files (not Twilio's JSON documents)."""
    listing = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    paths = [REPO / name for name in listing]
    return [path for path in paths if path.suffix in _TEXT_SUFFIXES and path.is_file()]


def test_no_file_names_a_path_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO)}: {match.group(0)}"
        for path in tracked_text_files()
        if path != Path(__file__).resolve()
        for match in _OUTSIDE.finditer(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert [] == offenders
