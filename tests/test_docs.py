"""The README stays true: every setting is documented, CI runs the README's test command."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from otp_service.settings import Settings

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Settings)])
def test_every_setting_is_in_the_readme(name: str) -> None:
    """Each Settings field's variable appears in the README's configuration table."""
    assert f"`OTP_{name.upper()}" in README or f", `OTP_{name.upper()}`" in README


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run runs exactly the test command of the README's quickstart."""
    quickstart = README.split("## Quickstart", 1)[1]
    commands = re.findall(r"^(make \w+)\s+#", quickstart, flags=re.MULTILINE)
    assert ["make dev", "make test"] == commands[:2]
    assert "exec make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
