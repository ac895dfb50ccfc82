"""The package rules of docs/architecture.md, and one problem type per error."""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from otp_service.core import errors
from otp_service.web.problems import PROBLEMS

PACKAGE = Path(__file__).resolve().parent.parent / "otp_service"
MAX_LINES = 300

#: third-party module → the only modules (relative to the package) that may import it.
OWNERS = {
    "flask": ("web/", "app.py", "cli.py", "dev_server.py"),  # the last two: type annotations
    "werkzeug": ("web/", "app.py", "cli.py", "dev_server.py"),
    "twilio": ("delivery/twilio_",),
    "argon2": ("core/codes.py",),
    "pyotp": ("totp/authenticator.py",),
    "prometheus_client": (
        "ops/metrics.py",
        "ops/queue_metrics.py",
        "web/metrics.py",
        "server/gunicorn_config.py",
    ),
    "webauthn": ("passkeys/relying_party.py",),
    "dramatiq": ("jobs/",),
    "standardwebhooks": ("webhooks/signing.py",),
    "urllib3": ("webhooks/transport.py",),
    "opentelemetry": ("tracing/",),
}
#: The capabilities: each is one package, and others reach it only through what it exports.
CAPABILITIES = (
    "verify",
    "totp",
    "passkeys",
    "abuse",
    "fraud",
    "delivery",
    "insights",
    "webhooks",
    "tracing",
)
#: The shared packages below the capabilities, and the packages each may import.
LOWER = {"core": {"core"}, "storage": {"core", "storage"}, "jobs": {"core", "storage", "jobs"}}
#: Where the parts are composed: they may reach into any package.
COMPOSITION = (
    "__init__.py",
    "app.py",
    "cli.py",
    "services.py",
    "outbound.py",
    "worker.py",
    "dev_server.py",
    "web/",
)
#: The commands that build the app (``create_app``) to run it or to use its services.
APP_BUILDERS = ("cli.py", "worker.py", "dev_server.py")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    parts = ["otp_service", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative).is_dir()


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:`` (never imported at run time)."""
    for child in ast.iter_child_nodes(tree):
        if not _is_type_checking(child):
            yield child
            yield from _runtime_nodes(child)


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports at run time, by dotted name (lazy imports included)."""
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:
                if _is_module(f"{node.module}.{alias.name}"):
                    yield f"{node.module}.{alias.name}"


def _own_imports(path: Path) -> set[str]:
    return {name for name in _imports(path) if name.startswith("otp_service.")}


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


@pytest.mark.parametrize("path", _modules(), ids=_relative)
def test_vendor_libraries_stay_in_their_modules(path: Path) -> None:
    """Each vendor library is imported only by the modules that own it."""
    relative = _relative(path)
    imported = {name.split(".")[0] for name in _imports(path)}
    for library, owners in OWNERS.items():
        if library in imported:
            assert relative.startswith(owners), f"{relative} imports {library}"


@pytest.mark.parametrize("path", _modules(), ids=_relative)
def test_capabilities_meet_only_through_what_they_export(path: Path) -> None:
    """No module outside a capability imports that capability's internal modules."""
    relative = _relative(path)
    if relative.startswith(COMPOSITION):
        return
    home = relative.split("/")[0]
    for name in _own_imports(path):
        parts = name.split(".")
        if parts[1] in CAPABILITIES and parts[1] != home:
            assert len(parts) == 2, f"{relative} imports {name}: import otp_service.{parts[1]}"


@pytest.mark.parametrize("path", _modules(), ids=_relative)
def test_shared_packages_import_nothing_above_them(path: Path) -> None:
    """core imports only core; storage only core and storage; jobs only those and itself."""
    home = _relative(path).split("/")[0]
    if home in LOWER:
        above = {name.split(".")[1] for name in _own_imports(path)} - LOWER[home]
        assert set() == above, _relative(path)


def test_nothing_outside_web_imports_web() -> None:
    """Domain modules never reach into the HTTP layer."""
    for path in _modules():
        relative = _relative(path)
        if relative.startswith("web/") or relative in ("app.py", "__init__.py"):
            continue
        imported = _own_imports(path)
        web = [name for name in imported if name.split(".")[:2] == ["otp_service", "web"]]
        assert [] == web, relative
        assert "otp_service.app" not in imported or relative in APP_BUILDERS, relative


def test_no_import_circles() -> None:
    """The modules' imports form no circle (lazy imports inside functions included)."""
    graph = {_name(path): _own_imports(path) - {_name(path)} for path in _modules()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import circle: {' -> '.join(error.args[1])}")


def test_finds_a_circle() -> None:
    """The circle finder is not blind: two modules importing each other are a circle."""
    graph = {"a": {"b"}, "b": {"a"}}
    with pytest.raises(graphlib.CycleError):
        tuple(graphlib.TopologicalSorter(graph).static_order())


@pytest.mark.parametrize("path", _modules(), ids=_relative)
def test_no_module_is_over_300_lines(path: Path) -> None:
    """Modules stay small enough to read in one sitting."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{_relative(path)} has {lines} lines"


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
