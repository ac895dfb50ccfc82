"""
The ``otp-service`` command: ``dev``, ``serve``, ``check-config``, ``keys new`` and
``keys rotate-totp``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from otp_service.embedded_redis import EmbeddedRedis
from otp_service.models import Scope
from otp_service.settings import ConfigError, Settings

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

  Try it in a browser: http://{host}:{port}/try

  Or with curl:
    curl -s -X POST http://{host}:{port}/v1/verifications \\
      -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\
      -d '{{"to": "+14155550100", "channel": "sms"}}'
    open http://{host}:{port}/dev/outbox to read the code, then:
    curl -s -X POST http://{host}:{port}/v1/verifications/<id>/check \\
      -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\
      -d '{{"code": "<code>"}}'
"""


def new_api_key() -> str:
    """A fresh API key (256 random bits)."""
    return "otp_" + secrets.token_urlsafe(32)


def api_key_entry(name: str, key: str, scopes: Sequence[str]) -> dict[str, object]:
    """The ``OTP_API_KEYS`` entry of a key: only its SHA-256 is stored."""
    return {
        "name": name,
        "key_sha256": hashlib.sha256(key.encode()).hexdigest(),
        "scopes": list(scopes),
    }


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
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
    redis_server = None if environ.get("OTP_REDIS_URL") else EmbeddedRedis().start()
    if redis_server is not None:
        environ["OTP_REDIS_URL"] = redis_server.url
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        app = _create_dev_app(environ)
        if app is None:
            return 1
        from werkzeug.serving import run_simple

        redis_label = "embedded, " + environ["OTP_REDIS_URL"] if redis_server else "OTP_REDIS_URL"
        print(DEV_BANNER.format(host=host, port=port, key=key, redis=redis_label), flush=True)
        run_simple(host, port, app, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        if redis_server is not None:
            redis_server.stop()
    return 0


def _create_dev_app(environ: dict[str, str]) -> Flask | None:
    from otp_service.app import create_app

    try:
        return create_app(Settings.from_env(environ))
    except ConfigError as error:
        print("\n".join(["configuration is not valid:", *error.problems]), file=sys.stderr)
        return None


def run_serve(extra: Sequence[str]) -> int:
    """Replace this process with gunicorn running the app with the shipped configuration."""
    # The gunicorn of this interpreter, whether or not the venv's bin is on PATH.
    config = "python:otp_service.gunicorn_config"
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


def run_check_config() -> int:
    """Validate the environment; print every problem and exit 1, or the redacted settings."""
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        print("configuration is not valid:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"configuration is valid ({settings.env}): {settings!r}")
    return 0


def run_keys_new(name: str, scopes: Sequence[str]) -> int:
    """Print a new API key once, and its ``OTP_API_KEYS`` entry."""
    key = new_api_key()
    print(f"API key (shown once, store it now): {key}")
    print("OTP_API_KEYS entry:")
    print(json.dumps(api_key_entry(name, key, scopes)))
    return 0


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
        print("\n".join(["configuration is not valid:", *error.problems]), file=sys.stderr)
        return 1
    from otp_service.errors import StoreUnavailable
    from otp_service.redis_connection import connect
    from otp_service.totp_keys import TotpKeyring, reseal_all
    from otp_service.totp_store import TotpStore

    client = connect(settings.redis_url, settings.redis_timeout_seconds)
    try:
        report = reseal_all(
            TotpKeyring(settings.totp_encryption_keys), TotpStore(client, settings.redis_prefix)
        )
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
    serve = commands.add_parser("serve", help="run with gunicorn and the shipped configuration")
    serve.add_argument(
        "gunicorn_args", nargs=argparse.REMAINDER, help="passed to gunicorn (--bind HOST:PORT ...)"
    )
    commands.add_parser("check-config", help="validate the OTP_* environment")
    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    new = key_commands.add_parser("new", help="make a new API key")
    new.add_argument("--name", required=True)
    new.add_argument(
        "--scopes",
        default=",".join(Scope),
        help=f"comma-separated, from: {', '.join(Scope)} (default: all)",
    )
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
        return run_check_config()
    if args.keys_command == "rotate-totp":
        return run_rotate_totp()
    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
    unknown = sorted(set(scopes) - {scope.value for scope in Scope})
    if unknown:
        print(f"unknown scopes: {', '.join(unknown)}", file=sys.stderr)
        return 2
    return run_keys_new(args.name, scopes)


if __name__ == "__main__":
    sys.exit(main())
