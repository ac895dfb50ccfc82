"""The dependency rule of STYLE practice 3, and one problem type per error (practice 12)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from otp_service import errors
from otp_service.web.problems import PROBLEMS

PACKAGE = Path(__file__).resolve().parent.parent / "otp_service"

#: third-party module → the only modules (relative to the package) that may import it.
OWNERS = {
    "flask": ("web/", "app.py", "cli.py"),  # cli.py: for a type annotation only
    "werkzeug": ("web/", "app.py", "cli.py"),
    "redis": ("store.py", "store_scripts.py", "totp_store.py", "redis_connection.py", "app.py"),
    "twilio": ("delivery/twilio_sms.py",),
    "argon2": ("codes.py",),
    "pyotp": ("totp.py",),
    "prometheus_client": ("metrics.py", "web/metrics.py", "gunicorn_config.py"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_vendor_libraries_stay_in_their_modules(path: Path) -> None:
    """Each vendor library is imported only by the module that owns it."""
    relative = path.relative_to(PACKAGE).as_posix()
    for library, owners in OWNERS.items():
        if library in _imports(path):
            assert relative.startswith(owners), f"{relative} imports {library}"


def test_nothing_outside_web_imports_web() -> None:
    """Domain modules never reach into the HTTP layer."""
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("web/") or relative in ("app.py", "__init__.py"):
            continue
        source = path.read_text(encoding="utf-8")
        assert "otp_service.web" not in source, relative
        assert "otp_service.app" not in source or relative == "cli.py", relative


def _leaves(cls: type[errors.OTPError]) -> list[type[errors.OTPError]]:
    children = cls.__subclasses__()
    return [cls] if not children else [leaf for child in children for leaf in _leaves(child)]


def test_every_error_has_a_problem_type() -> None:
    """Every OTPError leaf is in the one exception → problem table."""
    missing = [leaf.__name__ for leaf in _leaves(errors.OTPError) if leaf not in PROBLEMS]
    assert [] == missing


def test_problem_types_are_unique() -> None:
    """No two errors share a problem type slug unless they are meant to."""
    slugs = [slug for _, slug, _ in PROBLEMS.values()]
    assert len(set(slugs)) == len(slugs)
