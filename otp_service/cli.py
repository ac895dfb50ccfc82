"""
The ``otp-service`` command: ``dev``, ``serve``, ``worker``, ``check-config``, ``keys new`` and
``keys rotate-totp``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from otp_service.config.api_keys import run_keys_new
from otp_service.config.settings import ConfigError, Settings
from otp_service.console import print_problems
from otp_service.core.models import Scope, key_name_key
from otp_service.dev_server import run_dev
from otp_service.server import gunicorn_defaults

if TYPE_CHECKING:
    pass

TOTP_KEY_VARIABLES = (
    "OTP_TOTP_ENCRYPTION_KEY",
    "OTP_TOTP_ENCRYPTION_KEY_FILE",
    "OTP_TOTP_ENCRYPTION_KEYS",
    "OTP_TOTP_ENCRYPTION_KEYS_FILE",
)

SERVE_HELP = """usage: otp-service serve [GUNICORN OPTION ...]

Check the configuration as `otp-service check-config` does (on any problem: list them, start
nothing), then run the service under gunicorn with the shipped configuration.

The service's defaults (not gunicorn's), as they apply here:
  {bind:<30}  OTP_BIND (default 0.0.0.0:8000: every interface)
  {workers:<30}  OTP_WORKERS (default: one worker per CPU)
  {worker_class:<30}  threads absorb delivery waits
  {threads:<30}  OTP_THREADS (default 8 per worker)

Any other gunicorn option is passed to gunicorn, e.g.
  otp-service serve --bind 127.0.0.1:9000 --workers 4
(`python -m gunicorn --help` lists them, with gunicorn's own defaults, not these.)"""


def serve_help() -> str:
    """``serve --help``: the service's own gunicorn defaults, as they apply here."""
    return SERVE_HELP.format(
        bind=f"--bind {gunicorn_defaults.bind()}",
        workers=f"--workers {gunicorn_defaults.workers()}",
        worker_class=f"--worker-class {gunicorn_defaults.WORKER_CLASS}",
        threads=f"--threads {gunicorn_defaults.threads()}",
    )


def run_serve(extra: Sequence[str]) -> int:
    """Check the configuration, then replace this process with gunicorn running the app."""
    if {"-h", "--help"} & set(extra):
        print(serve_help())
        return 0
    try:
        Settings.from_env(os.environ)
    except ConfigError as error:
        print_problems(error)
        return 1
    # The gunicorn of this interpreter, whether or not the venv's bin is on PATH.
    config = "python:otp_service.server.gunicorn_config"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        config,
        *extra,
        "otp_service.app:create_app()",
    ]
    os.execv(sys.executable, command)  # noqa: S606


def run_check_config(*, probe: bool) -> int:
    """Validate the environment (and with ``probe``, reach each dependency); 1 on any problem."""
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        print_problems(error)
        return 1
    print(f"configuration is valid ({settings.env}): {settings!r}")
    if not probe:
        return 0
    from otp_service.ops.probes import FAIL, probe_all

    results = probe_all(settings, _readiness(settings))
    for result in results:
        print(result, flush=True)
    return 1 if any(result.status == FAIL for result in results) else 0


def _readiness(settings: Settings) -> Callable[[], dict[str, Any]]:
    """``GET /readyz`` of the app these settings make, answered in this process."""

    def readiness() -> dict[str, Any]:
        from otp_service.app import create_app

        # Its request and error log lines would mix with the probe's: the probe line says it.
        app = create_app(replace(settings, log_level="CRITICAL"))
        body: dict[str, Any] = app.test_client().get("/readyz").get_json()
        return body

    return readiness


def run_rotate_totp() -> int:
    """
    Re-encrypt every TOTP secret under the current (first) key of ``OTP_TOTP_ENCRYPTION_KEYS``.

    Refuses to run without an explicit key, so a development default never re-encrypts factors
    under a random key that dies with the process.
    """
    if not any(os.environ.get(name) for name in TOTP_KEY_VARIABLES):
        print(
            "set OTP_TOTP_ENCRYPTION_KEYS to the new key, then the old ones (comma-separated)",
            file=sys.stderr,
        )
        return 1
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        print_problems(error)
        return 1
    from otp_service.core.errors import StoreUnavailable
    from otp_service.storage.connection import connect
    from otp_service.totp.keys import TotpKeyring, reseal_all
    from otp_service.totp.store import TotpStore

    client = connect(settings.redis_url, settings.redis_timeout_seconds)
    try:
        store = TotpStore(client, settings.redis_prefix, name_key=key_name_key(settings.pepper))
        report = reseal_all(TotpKeyring(settings.totp_encryption_keys), store)
    except StoreUnavailable as error:
        print(f"cannot rotate: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(
        f"TOTP secrets under key {report.key_id}: {report.resealed} re-encrypted, "
        f"{report.already_current} already current"
    )
    if report.unreadable:
        print(
            f"{len(report.unreadable)} encrypted under a key that is not configured: "
            + ", ".join(report.unreadable),
            file=sys.stderr,
        )
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otp-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="run for development: embedded Redis, dev sender")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    commands.add_parser(
        "serve",
        help="run with gunicorn: 0.0.0.0:8000, a gthread worker per CPU (serve --help)",
    )
    check = commands.add_parser("check-config", help="validate the OTP_* environment")
    check.add_argument(
        "--probe",
        action="store_true",
        help="also reach Redis, SMTP and Twilio as configured (one line each; nothing sent)",
    )
    worker = commands.add_parser(
        "worker", help="run the background jobs: webhook deliveries, fallback timers"
    )
    worker.add_argument("--threads", type=int, default=8, help="jobs run at once (default 8)")
    worker.add_argument(
        "--check",
        action="store_true",
        help="report the queues and live workers instead; exit 1 when none is alive",
    )
    worker.add_argument(
        "--max-age",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --check: also exit 1 when the oldest ready job waited longer",
    )
    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    new = key_commands.add_parser("new", help="make a new API key")
    new.add_argument("--name", required=True)
    new.add_argument(
        "--scopes",
        default=",".join(Scope),
        help=f"comma-separated, from: {', '.join(Scope)} (default: all)",
    )
    new.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    key_commands.add_parser(
        "rotate-totp", help="re-encrypt every TOTP secret under the current encryption key"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``otp-service`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["serve"]:
        # Everything after `serve` is gunicorn's (--bind, --workers, ...), in its order.
        return run_serve(arguments[1:])
    args = _parser().parse_args(arguments)
    if args.command == "dev":
        return run_dev(args.host, args.port)
    if args.command == "check-config":
        return run_check_config(probe=args.probe)
    if args.command == "worker":
        from otp_service.worker import run_check, run_worker

        return run_check(args.max_age) if args.check else run_worker(max(args.threads, 1))
    if args.keys_command == "rotate-totp":
        return run_rotate_totp()
    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
    unknown = sorted(set(scopes) - {scope.value for scope in Scope})
    if unknown:
        print(f"unknown scopes: {', '.join(unknown)}", file=sys.stderr)
        return 2
    return run_keys_new(args.name, scopes, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
