"""Where the tests find their real RabbitMQ and PostgreSQL (DESIGN.md, "Tests talk to real things").

In order: a URL from the environment (``OMERO_MAIL_TEST_AMQP_URL``,
``OMERO_MAIL_TEST_PG_DSN``), else the service already listening on localhost, else one
started with testcontainers where Docker runs. Under CI (``CI`` set) a missing service
fails the run; elsewhere the tests that need it are skipped with the reason.

Isolation: each test gets its own RabbitMQ vhost (made with ``rabbitmqctl``, which the
local broker's machine has, and deleted when the test ends) and its own PostgreSQL
database. A test that stops or blocks its broker gets a vhost on a node of the session's
own instead (tests/rabbitmq_nodes.py): the local broker is shared with other test runs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import uuid
from typing import Callable
from urllib.parse import quote, urlsplit

import pytest


VHOST_PREFIX = "omero-mail-test-"


def listening(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def unavailable(what: str) -> None:
    """Fail under CI, skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not available, and CI needs it", pytrace=False)
    pytest.skip(f"{what} is not available")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RabbitMQError(RuntimeError):
    """rabbitmqctl refused or failed: the tests cannot make the vhosts they need."""


class RabbitMQ:
    """A broker the tests may create vhosts on, managed through ``ctl`` (rabbitmqctl's arguments)."""

    def __init__(self, base_url: str, ctl: Callable[..., subprocess.CompletedProcess], stop=None):
        self.base_url = base_url
        self.ctl = ctl
        self.stop = stop or (lambda: None)
        parts = urlsplit(base_url)
        self.netloc = parts.netloc
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 5672
        self.user = parts.username or "guest"
        self.run = uuid.uuid4().hex[:6]
        self.created: list[str] = []

    def url(self, vhost: str) -> str:
        return f"{self.scheme}://{self.netloc}/{quote(vhost, safe='')}"

    def new_vhost(self) -> str:
        """A vhost the broker's user may use; named after this run, so a leftover says whose it is."""
        name = f"{VHOST_PREFIX}{self.run}-{uuid.uuid4().hex[:8]}"
        self.ctl("eval", f'ok = rabbit_vhost:add(<<"{name}">>, <<"{self.user}">>), '
                         f'ok = rabbit_auth_backend_internal:set_permissions(<<"{self.user}">>, <<"{name}">>, '
                         f'<<".*">>, <<".*">>, <<".*">>, <<"{self.user}">>).')
        self.created.append(name)
        return name

    def check(self) -> None:
        """Create and delete a vhost, as every test will; raises with rabbitmqctl's own words."""
        name = self.new_vhost()
        self.delete_vhosts([name])

    def vhosts(self) -> list[str]:
        return self.ctl("-q", "list_vhosts").stdout.decode().split()

    def delete_vhosts(self, names: list[str] | None = None) -> list[str]:
        """Delete ``names`` (default: every vhost this run made), each on its own; returns those left.

        A test may have deleted its vhost already: ``catch`` lets that one fail alone.
        """
        names = list(self.created if names is None else names)
        if not names:
            return []
        quoted = ", ".join(f'<<"{n}">>' for n in names)
        # One rabbitmqctl call (each costs a second of CPU): delete, then name what is still there.
        result = self.ctl("eval", f'L = [{quoted}], [catch rabbit_vhost:delete(V, <<"tests">>) || V <- L], '
                                  f'[V || V <- L, rabbit_vhost:exists(V)].', check=False)
        self.created[:] = [n for n in self.created if n not in names]
        if result.returncode:
            return names
        return re.findall(r'<<"([^"]*)">>', result.stdout.decode())


def local_ctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, timeout=60)
    if check and result.returncode:
        raise RabbitMQError(f"rabbitmqctl {' '.join(args)} failed ({result.returncode}): "
                            f"{(result.stderr + result.stdout).decode(errors='replace').strip()[-500:]}")
    return result


def container_ctl(container) -> Callable[..., subprocess.CompletedProcess]:
    def ctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        code, out = container.exec(["rabbitmqctl", *args])
        if check and code:
            raise RabbitMQError(f"rabbitmqctl {' '.join(args)} failed: {out!r}")
        return subprocess.CompletedProcess(args, code, out, b"")
    return ctl


def find_rabbitmq():
    url = os.environ.get("OMERO_MAIL_TEST_AMQP_URL")
    if url:
        return RabbitMQ(url, local_ctl)
    if listening("127.0.0.1", 5672) and shutil.which("rabbitmqctl"):
        return RabbitMQ("amqp://guest:guest@127.0.0.1:5672/%2F", local_ctl)
    try:
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3.10-management").start()
        host = container.get_container_host_ip()
        port = container.get_exposed_port(5672)
        return RabbitMQ(f"amqp://guest:guest@{host}:{port}/%2F", container_ctl(container), container.stop)
    except Exception:  # noqa: BLE001 - no Docker here
        return None


def find_postgres_dsn() -> str | None:
    dsn = os.environ.get("OMERO_MAIL_TEST_PG_DSN")
    if dsn:
        return dsn
    if listening("127.0.0.1", 5432):
        return "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    try:
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:15").start()
        return (f"host={container.get_container_host_ip()} port={container.get_exposed_port(5432)} "
                f"user={container.username} password={container.password} dbname={container.dbname}")
    except Exception:  # noqa: BLE001 - no Docker here
        return None
