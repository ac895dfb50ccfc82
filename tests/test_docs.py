"""
The README stays a quickstart that works, and the documentation site builds with no broken link:
CI runs the README's test command, the README's links resolve, its walk-through is the one
tests/test_dev_command.py runs, and `mkdocs build --strict` passes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
#: "Fits a few screens".
README_MAX_LINES = 120


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run runs exactly the test command of the README's quickstart."""
    quickstart = README.split("## Quickstart", 1)[1]
    commands = re.findall(r"^(make \w+)\s+#", quickstart, flags=re.MULTILINE)
    assert ["make dev", "make test"] == commands[:2]
    assert "exec make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_fits_a_few_screens() -> None:
    """What it is, the two commands, the walk-through, production in a handful of lines, links."""
    assert len(README.splitlines()) <= README_MAX_LINES


def test_every_readme_link_resolves() -> None:
    """Each relative link of the README names a file of the repository."""
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    relative = [target for target in targets if "://" not in target]
    assert relative, "the README links to the documentation"
    assert [] == [target for target in relative if not (REPO / target).is_file()]


def test_the_walkthrough_is_the_one_the_dev_command_test_runs() -> None:
    """The README's curl walk-through: start an SMS verification, read the outbox, check."""
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    for step in (
        "curl -s -X POST http://127.0.0.1:8000/v1/verifications ",
        """-d '{"to": "+14155550100", "channel": "sms"}'""",
        "http://127.0.0.1:8000/dev/outbox.json",
        "/check \\",
        """-d '{"code": "275961"}'""",
    ):
        assert step in quickstart


def test_the_documentation_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict`: every page in the nav, no broken link or anchor."""
    pytest.importorskip("mkdocs", reason="mkdocs is in the test extras")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 0 == built.returncode, built.stderr[-3000:]


def test_no_file_holds_a_merge_conflict_marker() -> None:
    """A merge left unresolved never lands: no tracked text file has conflict markers."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    marker = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)
    found = []
    for name in listed:
        path = REPO / name
        if path.suffix in (".png", ".ico", ".woff2") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if marker.search(text):
            found.append(name)
    assert [] == found
