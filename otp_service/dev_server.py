"""
``otp-service dev``: the service for development, with an embedded Redis, the dev sender, a
printed dev key, and a job worker in the same process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Final, cast

from otp_service.config.api_keys import api_key_entry, new_api_key
from otp_service.config.settings import ConfigError, Settings
from otp_service.console import print_problems
from otp_service.core.models import Scope
from otp_service.storage.embedded_redis import EmbeddedRedis

if TYPE_CHECKING:
    from flask import Flask

    from otp_service.services import Services

DEV_WORKER_THREADS: Final = 2
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
    from werkzeug.serving import make_server

    from otp_service.worker import start_worker

    redis_label = "embedded, " + environ["OTP_REDIS_URL"] if embedded else "OTP_REDIS_URL"
    browser = "localhost" if host in ("127.0.0.1", "::1", "0.0.0.0") else host  # noqa: S104
    names = {"host": host, "browser_host": browser, "port": port, "key": key, "redis": redis_label}
    # Bound before the banner: the curl lines it prints work the moment they are on screen.
    # A taken port: werkzeug prints which and exits 1; run_dev's finally stops Redis.
    server = make_server(host, port, app, threaded=True)
    services = cast("Services", app.extensions["otp_service"])
    # The background jobs (webhooks, fallback timers) run in this process, beside the server.
    worker = start_worker(services, DEV_WORKER_THREADS) if services.jobs is not None else None
    print(DEV_BANNER.format(**names), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if worker is not None:
            worker.stop()
    return 0


def _create_dev_app(environ: dict[str, str]) -> Flask | None:
    from otp_service.app import create_app

    try:
        return create_app(Settings.from_env(environ))
    except ConfigError as error:
        print_problems(error)
        return None
