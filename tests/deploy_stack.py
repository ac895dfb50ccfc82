"""
deploy/compose.yaml's three services as local processes, for tests on a machine without Docker:
Redis (its compose command), the service (``otp-service serve`` with the ``.env`` file and the
compose environment) and Debian's nginx (deploy/nginx.conf), each on a free loopback port and
stopped by PID.

Only what Docker would provide changes: host names become 127.0.0.1, ports are free ones, and
nginx gets a prefix of its own (pid file, temp folders) in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import requests
import yaml

from otp_service.storage.embedded_redis import EmbeddedRedis, free_port, stop_process

REPO = Path(__file__).resolve().parent.parent
OTP_SERVICE = Path(sys.executable).with_name("otp-service")


def find_nginx() -> str | None:
    """Debian's nginx: on PATH, or in /usr/sbin (not on a non-root PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def compose(deploy: Path) -> dict[str, Any]:
    """The compose file of the ``deploy`` folder, parsed."""
    return cast(dict[str, Any], yaml.safe_load((deploy / "compose.yaml").read_text()))


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as Compose reads them (``#`` lines skipped, single quotes dropped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[name.strip()] = value.strip().removeprefix("'").removesuffix("'")
    return values


def set_env_values(path: Path, values: Mapping[str, str]) -> None:
    """Set ``values`` in an env file: replace each variable's line (commented or not)."""
    lines = path.read_text().splitlines()
    for name, value in values.items():
        quoted = f"'{value}'" if value.startswith(("[", "{")) else value
        matches = [i for i, line in enumerate(lines) if line.lstrip("# ").startswith(f"{name}=")]
        assert matches, f"{name} is not in {path.name}"
        lines[matches[0]] = f"{name}={quoted}"
    path.write_text("\n".join(lines) + "\n")


def service_environ(deploy: Path, redis_url: str, bind: str) -> dict[str, str]:
    """What the otp-service container sees: the .env file, then compose's ``environment``."""
    given = compose(deploy)["services"]["otp-service"]["environment"]
    local = {"OTP_REDIS_URL": redis_url, "OTP_BIND": bind, "OTP_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    assert set(local) == set(given), "compose sets variables this stand-in does not translate"
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTP_")}
    return {**base, **read_env_file(deploy / ".env"), **local}


def redis_arguments(deploy: Path) -> list[str]:
    """The redis service's command line, without the program name."""
    command = compose(deploy)["services"]["redis"]["command"]
    assert "redis-server" == command[0]
    return [str(argument) for argument in command[1:]]


@contextmanager
def running_redis(deploy: Path, data_dir: Path) -> Iterator[EmbeddedRedis]:
    """redis-server with the compose command's options, its files in ``data_dir``."""
    server = EmbeddedRedis(extra_args=[*redis_arguments(deploy), "--dir", str(data_dir)])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def nginx_config(deploy: Path, prefix: Path, upstream: str, port: int) -> Path:
    """deploy/nginx.conf with the upstream and listen address of this machine, under ``prefix``."""
    text = (deploy / "nginx.conf").read_text()
    replacements = {
        "server otp-service:8000;": f"server {upstream};",
        "listen 8080;": f"listen 127.0.0.1:{port};",
        "http {": "http {\n"
        + "".join(
            f"    {kind}_temp_path {prefix / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
    }
    for old, new in replacements.items():
        assert old in text, f"deploy/nginx.conf has no {old!r}"
        text = text.replace(old, new, 1)
    path = prefix / "nginx.conf"
    path.write_text(text)
    return path


@contextmanager
def running_nginx(config: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Debian's nginx in the foreground with ``config``; stopped by PID."""
    prefix = config.parent
    directives = f"daemon off; pid {prefix / 'nginx.pid'}; error_log stderr;"
    if os.geteuid() == 0:  # workers would drop to `nobody`, who cannot enter the temp folder
        directives += " user root;"
    executable = find_nginx()
    assert executable is not None, "no nginx"
    with (prefix / "error.log").open("wb") as log:
        process = subprocess.Popen(
            [executable, "-p", str(prefix), "-c", str(config), "-e", "stderr", "-g", directives],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        wait_for(lambda: _accepts(port), process, "nginx", prefix / "error.log")
        yield process
    finally:
        stop_process(process, timeout_seconds=10)


@contextmanager
def running_service(environ: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``otp-service serve`` (gunicorn, the shipped configuration) with ``environ``."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(OTP_SERVICE), "serve"], env=dict(environ), stdout=output, stderr=output
        )
    try:
        port = int(environ["OTP_BIND"].rsplit(":", 1)[1])
        wait_for(lambda: _accepts(port), process, "otp-service serve", log)
        yield process
    finally:
        stop_process(process, timeout_seconds=25)


def wait_for(
    ready: Any, process: subprocess.Popen[bytes], what: str, log: Path, seconds: float = 30
) -> None:
    """Wait until ``ready()``; fail with the log's tail if ``process`` exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited:\n{log.read_text()[-3000:]}"
        if ready():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not start in {seconds} s:\n{log.read_text()[-3000:]}")


def _accepts(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/livez", timeout=1)
    except requests.RequestException:
        return False
    return True


def new_local_ports() -> tuple[str, int]:
    """A bind address for the service and a port for nginx."""
    return f"127.0.0.1:{free_port()}", free_port()
