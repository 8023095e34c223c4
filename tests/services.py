"""Where the tests find their real RabbitMQ and PostgreSQL (DESIGN.md, "Tests talk to real things").

In order: a URL from the environment (``OMERO_MAIL_TEST_AMQP_URL``,
``OMERO_MAIL_TEST_PG_DSN``), else the service already listening on localhost, else one
started with testcontainers where Docker runs. Under CI (``CI`` set) a missing service
fails the run; elsewhere the tests that need it are skipped with the reason.

Isolation: each test gets its own RabbitMQ vhost (made with ``rabbitmqctl``, which the
local broker's machine has) and its own PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
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


class RabbitMQ:
    """A broker the tests may create vhosts on."""

    def __init__(self, base_url: str, container=None):
        self.base_url = base_url
        self.container = container
        parts = urlsplit(base_url)
        self.netloc = parts.netloc
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 5672
        self.created: list[str] = []

    def url(self, vhost: str) -> str:
        return f"{self.scheme}://{self.netloc}/{quote(vhost, safe='')}"

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        if self.container is not None:
            code, out = self.container.exec(["rabbitmqctl", *args])
            if check and code:
                raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {out!r}")
            return subprocess.CompletedProcess(args, code, out, b"")
        return subprocess.run(["rabbitmqctl", *args], capture_output=True, check=check, timeout=60)

    def new_vhost(self) -> str:
        """A vhost the broker's user may use; retried while the broker is busy or restarting."""
        name = f"{VHOST_PREFIX}{uuid.uuid4().hex[:12]}"
        user = urlsplit(self.base_url).username or "guest"
        deadline = time.monotonic() + 60
        while True:
            if self._grant(name, user):
                self.created.append(name)
                return name
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not create RabbitMQ vhost {name} with rabbitmqctl")
            time.sleep(1)

    def _grant(self, name: str, user: str) -> bool:
        self.ctl("eval", f'rabbit_vhost:add(<<"{name}">>, <<"{user}">>), '
                         f'rabbit_auth_backend_internal:set_permissions(<<"{user}">>, <<"{name}">>, '
                         f'<<".*">>, <<".*">>, <<".*">>, <<"{user}">>).', check=False)
        listed = self.ctl("list_permissions", "-p", name, check=False)
        if listed.returncode == 0 and user.encode() in (listed.stdout or b""):
            return True
        self.ctl("add_vhost", name, check=False)
        return self.ctl("set_permissions", "-p", name, user, ".*", ".*", ".*", check=False).returncode == 0

    def delete_vhosts(self) -> None:
        self._delete(self.created)
        self.created.clear()

    def delete_other_test_vhosts(self, keep: str) -> None:
        """Every test vhost but ``keep``, left over from finished tests or earlier runs.

        A broker restart recovers each vhost in turn, so hundreds of them make it take
        minutes; the test that restarts the broker clears them first.
        """
        listed = self.ctl("-q", "list_vhosts", check=False).stdout or b""
        names = [n for n in listed.decode().split() if n.startswith(VHOST_PREFIX) and n != keep]
        self._delete(names)
        self.created[:] = [n for n in self.created if n not in names]

    def _delete(self, names) -> None:
        if names:
            quoted = ", ".join(f'<<"{n}">>' for n in names)
            self.ctl("eval", f'[rabbit_vhost:delete(V, <<"tests">>) || V <- [{quoted}]], ok.', check=False)


def find_rabbitmq():
    url = os.environ.get("OMERO_MAIL_TEST_AMQP_URL")
    if url:
        return RabbitMQ(url)
    if listening("127.0.0.1", 5672) and shutil.which("rabbitmqctl"):
        return RabbitMQ("amqp://guest:guest@127.0.0.1:5672/%2F")
    try:
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3.10-management").start()
        host = container.get_container_host_ip()
        port = container.get_exposed_port(5672)
        return RabbitMQ(f"amqp://guest:guest@{host}:{port}/%2F", container)
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
