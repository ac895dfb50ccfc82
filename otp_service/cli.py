"""
The ``otp-service`` command: ``dev``, ``serve``, ``check-config``, ``keys new`` and
``keys rotate-totp``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import FrameType
from typing import TYPE_CHECKING, Any

from otp_service.config.api_keys import api_key_entry, new_api_key, run_keys_new
from otp_service.config.settings import ConfigError, Settings
from otp_service.core.models import Scope, key_name_key
from otp_service.server import gunicorn_defaults
from otp_service.storage.embedded_redis import EmbeddedRedis

if TYPE_CHECKING:
    from flask import Flask

TOTP_KEY_VARIABLES = (
    "OTP_TOTP_ENCRYPTION_KEY",
    "OTP_TOTP_ENCRYPTION_KEY_FILE",
    "OTP_TOTP_ENCRYPTION_KEYS",
    "OTP_TOTP_ENCRYPTION_KEYS_FILE",
)

DEV_BANNER = """
  otp-service (development) on http://{host}:{port}
  Redis: {redis}    senders: dev (codes go to the dev outbox and this log)

  Dev API key (all scopes):  {key}

  Try it in a browser: http://{browser_host}:{port}/try (passkeys need a name, not an IP)

  Or with curl:
    curl -s -X POST http://{host}:{port}/v1/verifications \\
      -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\
      -d '{{"to": "+14155550100", "channel": "sms"}}'
    open http://{host}:{port}/dev/outbox to read the code, then:
    curl -s -X POST http://{host}:{port}/v1/verifications/<id>/check \\
      -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\
      -d '{{"code": "<code>"}}'
"""

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


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_dev(host: str, port: int) -> int:
    """Serve the app with an embedded Redis, the dev sender and a printed dev key."""
    environ = dict(os.environ)
    if environ.get("OTP_ENV", "development") != "development":
        print("otp-service dev runs only with OTP_ENV=development (or unset).", file=sys.stderr)
        return 1
    environ["OTP_ENV"] = "development"
    key = "(from OTP_API_KEYS)"
    if not environ.get("OTP_API_KEYS"):
        key = new_api_key()
        environ["OTP_API_KEYS"] = json.dumps([api_key_entry("dev", key, list(Scope))])
        # Only a key made here, never one of the operator's: the /try page prefills it.
        environ["OTP_DEV_API_KEY"] = key
    # Closing the terminal (SIGHUP) or `kill` (SIGTERM) stops Redis as Ctrl-C does; SIGKILL
    # cannot be caught: the embedded Redis dies with this process, and the next start removes
    # the directory left behind.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    redis_server: EmbeddedRedis | None = None
    try:
        if not environ.get("OTP_REDIS_URL"):
            redis_server = EmbeddedRedis(die_with_parent=True).start()
            environ["OTP_REDIS_URL"] = redis_server.url
        return _serve_dev(host, port, environ, key, embedded=redis_server is not None)
    except KeyboardInterrupt:
        return 0
    finally:
        if redis_server is not None:
            redis_server.stop()


def _serve_dev(host: str, port: int, environ: dict[str, str], key: str, *, embedded: bool) -> int:
    app = _create_dev_app(environ)
    if app is None:
        return 1
    from werkzeug.serving import run_simple

    redis_label = "embedded, " + environ["OTP_REDIS_URL"] if embedded else "OTP_REDIS_URL"
    browser = "localhost" if host in ("127.0.0.1", "::1", "0.0.0.0") else host  # noqa: S104
    names = {"host": host, "browser_host": browser, "port": port, "key": key, "redis": redis_label}
    print(DEV_BANNER.format(**names), flush=True)
    run_simple(host, port, app, threaded=True, use_reloader=False)
    return 0


def _create_dev_app(environ: dict[str, str]) -> Flask | None:
    from otp_service.app import create_app

    try:
        return create_app(Settings.from_env(environ))
    except ConfigError as error:
        print_problems(error)
        return None


def print_problems(error: ConfigError) -> None:
    """The configuration's problems on stderr, one line each (no traceback)."""
    print("configuration is not valid:", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)


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
