"""
The README's production section, followed command by command on this machine without Docker:
each ``docker compose`` line runs what the container would run (see tests/deploy_stack.py), the
rest runs as written. Then a code is approved through nginx, and slow clients are shown not to
stall the service behind nginx (bare gunicorn: the strict xfail in tests/reliability).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests import deploy_stack
from tests.deploy_stack import OTP_SERVICE, REPO
from tests.servers.smtp import Mailbox, SmtpServer, plain_text

pytestmark = [
    pytest.mark.gunicorn,
    pytest.mark.skipif(deploy_stack.find_nginx() is None, reason="no nginx: apt-get install nginx"),
]
_COMPOSE_RUN = re.compile(r"^docker compose run --rm (?:--no-deps )?otp-service (.+)$")
_KEY = re.compile(r"\botp_[A-Za-z0-9_-]{20,}")


def production_commands() -> list[str]:
    """The command lines of the README's production block (after `## Run it in production`)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Run it in production", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None, "the production section has no sh block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


@dataclass
class Walkthrough:
    """What following the section leaves behind: the folder, values pasted, the running stack."""

    deploy: Path
    mailbox: Mailbox
    smtp_port: int
    pasted: dict[str, str] = field(default_factory=dict)
    api_key: str = ""
    printed: dict[str, str] = field(default_factory=dict)
    base_url: str = ""


def _api_keys_value(output: str) -> tuple[str, str]:
    """The key and the OTP_API_KEYS value ``keys new`` printed, pasted as it stands."""
    key = _KEY.search(output)
    assert key is not None, output
    found = re.search(r"^(\[.*\])$", output, flags=re.MULTILINE)
    assert found is not None, output
    return key.group(0), found.group(1)


def _container_command(arguments: str, flow: Walkthrough) -> list[str]:
    """A command the service's container would run, as this machine runs it."""
    words = shlex.split(arguments)
    assert "otp-service" == words[0]
    return [str(OTP_SERVICE), *words[1:]]


def _run(command: list[str], flow: Walkthrough, **environ: str) -> subprocess.CompletedProcess[str]:
    env = deploy_stack.service_environ(flow.deploy, **environ) if environ else None
    return subprocess.run(
        command, cwd=flow.deploy, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _edit(flow: Walkthrough) -> None:
    """What a person types into .env: the values printed above and their mail server."""
    mail = {
        "OTP_SMTP_HOST": "127.0.0.1",
        "OTP_SMTP_PORT": str(flow.smtp_port),
        "OTP_SMTP_TLS": "none",
        "OTP_EMAIL_FROM": "no-reply@example.com",
    }
    deploy_stack.set_env_values(flow.deploy / ".env", {**flow.pasted, **mail})


def _step(line: str, flow: Walkthrough, local: dict[str, str]) -> None:
    """One line of the section."""
    command, _, comment = line.partition("#")
    command = command.strip()
    target = re.search(r"→ (OTP_[A-Z_]+)", comment)
    if command.startswith("cd deploy && "):
        command = command.removeprefix("cd deploy && ")
    if command.startswith(("cp ", "openssl ")):
        done = _run(shlex.split(command), flow)
        assert 0 == done.returncode, done.stderr
        if target:
            flow.pasted[target.group(1)] = done.stdout.strip()
    elif match := _COMPOSE_RUN.match(command):
        done = _run(_container_command(match.group(1), flow), flow, **local)
        assert 0 == done.returncode, done.stdout + done.stderr
        if target:
            flow.api_key, flow.pasted[target.group(1)] = _api_keys_value(done.stdout)
        flow.printed[match.group(1)] = done.stdout
    elif command.startswith("vi .env"):
        _edit(flow)
    elif command.startswith("curl "):
        url = command.split()[-1].replace("http://localhost:8080", flow.base_url)
        flow.printed["curl"] = _run(["curl", "-s", url], flow).stdout
    else:
        raise AssertionError(f"the test does not know how to run: {line}")


@pytest.fixture(name="production", scope="module")
def _production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walkthrough]:
    """The README's production section done; the stack stays up for the tests of this module."""
    root = tmp_path_factory.mktemp("production")
    shutil.copytree(REPO / "deploy", root / "deploy")
    (root / "redis").mkdir()
    (root / "nginx").mkdir()
    mailbox = Mailbox()
    with SmtpServer(mailbox) as smtp:
        flow = Walkthrough(root / "deploy", mailbox, smtp.port)
        bind, nginx_port = deploy_stack.new_local_ports()
        with deploy_stack.running_redis(flow.deploy, root / "redis") as redis_server:
            local = {"redis_url": redis_server.url, "bind": bind}
            lines = production_commands()
            up = lines.index("docker compose up -d --build")
            for line in lines[:up]:
                _step(line, flow, local)
            environ = deploy_stack.service_environ(flow.deploy, **local)
            with deploy_stack.running_service(environ, root / "service.log"):
                config = deploy_stack.nginx_config(flow.deploy, root / "nginx", bind, nginx_port)
                with deploy_stack.running_nginx(config, nginx_port):
                    flow.base_url = f"http://127.0.0.1:{nginx_port}"
                    for line in lines[up + 1 :]:
                        _step(line, flow, local)
                    yield flow


def test_the_section_is_a_handful_of_commands() -> None:
    """Copy, three secrets, edit, check, start, look: no more."""
    assert 6 <= len(production_commands()) <= 10


def test_the_configuration_check_passes(production: Walkthrough) -> None:
    """check-config, run as the section says, accepts the filled-in .env."""
    printed = " ".join(production.printed.values())
    assert "configuration is valid (production)" in printed


def test_ready_with_persistence_through_nginx(production: Walkthrough) -> None:
    """The section's last command: /readyz through nginx, Redis with its AOF on."""
    ready = json.loads(production.printed["curl"])
    assert {"redis", "scripts", "persistence"} <= set(ready["ok"])


def test_a_code_is_approved_through_nginx(production: Walkthrough) -> None:
    """An email code sent through the configured SMTP server, checked through nginx: approved."""
    headers = {"Authorization": f"Bearer {production.api_key}"}
    to = "person@example.com"
    started = requests.post(
        f"{production.base_url}/v1/verifications",
        json={"to": to, "channel": "email"},
        headers=headers,
        timeout=30,
    )
    assert 201 == started.status_code, started.text
    text = plain_text(production.mailbox.messages()[-1])
    code = re.search(r"\b(\d{6})\b", text)
    assert code is not None, text
    checked = requests.post(
        f"{production.base_url}/v1/verifications/{started.json()['id']}/check",
        json={"code": code.group(1)},
        headers=headers,
        timeout=30,
    )
    assert ("approved", True) == (checked.json()["status"], checked.json()["valid"])


def test_nginx_stamps_each_request_with_its_own_arrival(production: Walkthrough) -> None:
    """A client's own X-Request-Start (an hour old) is replaced by nginx's: not shed."""
    stale = {"X-Request-Start": f"t={time.time() - 3600:.3f}"}
    headers = {"Authorization": f"Bearer {production.api_key}", **stale}
    response = requests.get(
        f"{production.base_url}/v1/verifications/vf_{'0' * 32}", headers=headers, timeout=10
    )
    assert 404 == response.status_code, response.text


@pytest.mark.parametrize(
    "partial",
    [
        b"POST /v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        b"POST /v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"to"',
    ],
    ids=["partial-headers", "partial-body"],
)
def test_slow_clients_do_not_stall_the_service_behind_nginx(
    production: Walkthrough, partial: bytes
) -> None:
    """
    More half-sent requests than gunicorn has threads (a worker per CPU, 8 threads each): nginx
    holds them, and /livez is still answered at once.
    """
    port = int(production.base_url.rsplit(":", 1)[1])
    count = (os.cpu_count() or 1) * 8 + 4
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    try:
        for connection in held:
            connection.sendall(partial)
        time.sleep(0.5)
        started = time.monotonic()
        assert 200 == requests.get(f"{production.base_url}/livez", timeout=5).status_code
        assert time.monotonic() - started < 2
    finally:
        for connection in held:
            connection.close()


def test_a_forged_forwarded_for_does_not_step_around_the_per_ip_limit(
    production: Walkthrough,
) -> None:
    """
    nginx replaces X-Forwarded-For and the service trusts one proxy: 20 starts an hour from one
    address (the default), whatever address each request claims. (Last: it spends that budget.)
    """
    headers = {"Authorization": f"Bearer {production.api_key}"}
    answers = [
        requests.post(
            f"{production.base_url}/v1/verifications",
            json={"to": f"person{n}@example.com", "channel": "email"},
            headers={**headers, "X-Forwarded-For": f"198.51.100.{n}"},
            timeout=30,
        )
        for n in range(21)
    ]
    statuses = [answer.status_code for answer in answers]
    admitted = statuses.count(201)
    assert admitted in (19, 20), statuses  # 19 when the walk-through above spent one
    assert [201] * admitted + [429] * (21 - admitted) == statuses
    assert "/problems/rate-limited" in answers[-1].json()["type"]
