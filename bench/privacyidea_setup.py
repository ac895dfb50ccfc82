"""
privacyIDEA for the side-by-side benchmark (``bench/privacyidea.py``): installed from PyPI into a
venv of its own (never the project's), configured on a throwaway PostgreSQL, and given a
realm of users, each with an e-mail token whose codes go to a local SMTP sink.

Nothing of privacyIDEA is part of this repository: the venv is made on first use under
``~/.cache/otp-service-bench`` (or ``--pi-cache``) from PyPI.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.servers import stop_process
from otp_service.storage.embedded_redis import free_port

PI_VERSION: Final = "3.14"
PIN: Final = "1234"
ADMIN_PASSWORD: Final = "bench-admin-" + secrets.token_hex(8)


def ensure_venv(cache: Path) -> Path:
    """A venv with privacyIDEA and gunicorn (made once, then reused); its folder."""
    venv = cache / f"privacyidea-{PI_VERSION}"
    marker = venv / ".installed"
    if marker.exists():
        return venv
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"privacyidea=={PI_VERSION}", "gunicorn", "psycopg2-binary"], check=True)
    marker.touch()
    return venv


@dataclass(frozen=True, slots=True)
class Database:
    """A running PostgreSQL: the SQLAlchemy URL of its database, and its postmaster's pid."""

    url: str
    pid: int


@contextmanager
def throwaway_postgres(folder: Path) -> Iterator[Database]:
    """
    A PostgreSQL of its own (Debian's ``postgresql`` binaries, run as the ``postgres`` user) on
    a free loopback port, its data in ``folder``; its database ``pi``.
    Stopped when the block ends. (privacyIDEA on SQLite serialises every write: the figure would
    be SQLite's, not privacyIDEA's.)
    """
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not binaries:
        raise SystemExit("needs Debian's postgresql package (apt-get install postgresql)")
    bin_dir = binaries[-1].parent
    data, port = folder / "pg", free_port()
    data.mkdir()
    shutil.chown(data, "postgres")
    os.chmod(folder, 0o755)  # noqa: S103 (the postgres user must reach its data folder)
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # Commits are flushed by the WAL writer, not waited for: as the service's Redis with
    # ``appendfsync everysec`` (what docs/operations.md recommends, and the bench runs).
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c synchronous_commit=off"
    ctl = [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-w"]
    subprocess.run([*ctl, "-o", options, "-l", str(data / "log"), "start"], check=True)
    try:
        subprocess.run(
            [*as_postgres, str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "pi"],
            check=True,
        )
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield Database(f"postgresql+psycopg2://postgres@127.0.0.1:{port}/pi", pid)
    finally:
        subprocess.run([*ctl, "-m", "fast", "stop"], check=False)


def configure(venv: Path, folder: Path, database_url: str) -> Path:
    """``pi.cfg`` on ``database_url`` in ``folder``, its keys and tables, and an admin; the WSGI
    file."""
    config = folder / "pi.cfg"
    config.write_text(
        "\n".join(
            [
                f"SQLALCHEMY_DATABASE_URI = '{database_url}'",
                f"SECRET_KEY = '{secrets.token_hex(32)}'",
                f"PI_PEPPER = '{secrets.token_hex(16)}'",
                f"PI_ENCFILE = '{folder / 'enckey'}'",
                f"PI_AUDIT_KEY_PRIVATE = '{folder / 'private.pem'}'",
                f"PI_AUDIT_KEY_PUBLIC = '{folder / 'public.pem'}'",
                f"PI_LOGFILE = '{folder / 'privacyidea.log'}'",
                "PI_LOGLEVEL = 30",
                "SUPERUSER_REALM = ['super']",
                "",
            ]
        )
    )
    env = {"PRIVACYIDEA_CONFIGFILE": str(config), "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    manage = [str(venv / "bin" / "pi-manage")]
    for command in (["setup", "create_enckey"], ["setup", "create_audit_keys"]):
        subprocess.run([*manage, *command], env=env, check=True, cwd=folder)
    subprocess.run([*manage, "setup", "create_tables"], env=env, check=True, cwd=folder)
    admin = [*manage, "admin", "add", "admin", "-p", ADMIN_PASSWORD]
    subprocess.run(admin, env=env, check=True, cwd=folder)
    wsgi = folder / "pi_wsgi.py"
    wsgi.write_text(
        "from privacyidea.app import create_app\n"
        f"application = create_app(config_name='production', config_file={str(config)!r},"
        " silent=True)\n"
    )
    return config


@contextmanager
def pi_gunicorn(
    venv: Path, folder: Path, config: Path, log_path: Path
) -> Iterator[tuple[str, int]]:
    """
    privacyIDEA under gunicorn with the service's workers, threads and worker class (cores, 8,
    gthread) on a free loopback port; its address and master's pid. Stopped when the block ends.
    (gunicorn's defaults otherwise: with the service's keep-alive of 5 s and its recycling, every
    privacyIDEA thread hung within a minute in one run.)
    """
    port = free_port()
    command = [
        str(venv / "bin" / "gunicorn"),
        *("--workers", str(os.cpu_count() or 1), "--threads", "8", "--worker-class", "gthread"),
        *("--bind", f"127.0.0.1:{port}", "--chdir", str(folder), "--config", "/dev/null"),
        "pi_wsgi:application",
    ]
    env = {"PRIVACYIDEA_CONFIGFILE": str(config), "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a hung worker goes with it
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"privacyIDEA did not start: {log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                time.sleep(0.3)
        yield f"127.0.0.1:{port}", process.pid
    finally:
        stop_process(process)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # workers the master left behind


def _call(base: str, path: str, body: dict[str, Any], token: str = "") -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (our loopback URL)
        base + path,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": token, "PI-Authorization": token} if token else {}),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        reply: dict[str, Any] = json.loads(response.read())
    if not reply.get("result", {}).get("status"):
        raise RuntimeError(f"privacyIDEA refused {path}: {reply}")
    return reply


def provision(base: str, folder: Path, users: int, smtp_port: int) -> list[str]:
    """A realm of ``users`` users, each with an e-mail token (PIN ``PIN``); their names."""
    token = _call(base, "/auth", {"username": "admin", "password": ADMIN_PASSWORD})["result"][
        "value"
    ]["token"]
    mail = {
        "email.mailserver": "127.0.0.1",
        "email.port": str(smtp_port),
        "email.mailfrom": "privacyidea@example.com",
        "email.tls": "False",
    }
    _call(base, "/system/setConfig", mail, token)
    names = [f"bench{n}" for n in range(users)]
    passwd = folder / "users.passwd"
    passwd.write_text(
        "".join(f"{name}:x:{1000 + n}:1000:{name},,,:/home/{name}:/bin/sh\n" for n, name in
                enumerate(names))
    )  # fmt: skip
    _call(base, "/resolver/benchusers", {"type": "passwdresolver", "fileName": str(passwd)}, token)
    _call(base, "/realm/bench", {"resolvers": "benchusers"}, token)
    for name in names:
        init = {"type": "email", "user": name, "realm": "bench", "pin": PIN,
                "email": f"{name}@example.com"}  # fmt: skip
        _call(base, "/token/init", init, token)
    return names
