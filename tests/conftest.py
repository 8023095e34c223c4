"""Shared fixtures: a real broker (a vhost per test), a real SMTP server, a running consumer.

A test that stops, blocks or clusters RabbitMQ is marked ``private_broker`` (or asks for
``rabbitmq_cluster``) and gets nodes of the session's own instead of the shared broker.

``make_service(**properties)`` starts the whole consumer in a thread against the test's
vhost and SMTP server, and stops it (gracefully) at the end of the test.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
import threading
import time
import uuid
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from events.config import Properties
from consumer.access.definitions import topology_for
from consumer.stages.service import Service
from consumer.admin.sink import Sink
from events import topology as topo
from events.broker import Message, Publisher, declare_topology
from events.schemas import new_event

from . import rabbitmq_nodes
from .services import RabbitMQ, RabbitMQError, find_postgres_dsn, find_rabbitmq, free_port, unavailable

#: OMERO's database (tests/omero_db.py) and the bridge's fixtures, for every test module.
pytest_plugins = ["tests.omero_db", "tests.bridge_helpers", "tests.webapp", "tests.reverse_proxy"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SENDERS = ROOT / "etc" / "mail-senders.example"


def wait_for(condition, timeout: float = 30.0, interval: float = 0.02, what: str = "condition"):
    """Poll until ``condition()`` is truthy; fail the test with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def take_all(url: str, queue: str) -> list[tuple[dict, bytes]]:
    """Take every message off ``queue``: (headers, body) pairs, in order."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    found = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return found
            found.append((properties.headers or {}, body))
    finally:
        connection.close()


def pytest_configure(config):
    config.addinivalue_line("markers", "private_broker: the test's vhost is on the session's own RabbitMQ node "
                                       "(tests/rabbitmq_nodes.py), for a test that stops or blocks its broker")


@pytest.fixture(autouse=True)
def restored_logging():
    """Put the root logger back after a test that ran the CLI in-process.

    ``omero-mail``'s main() points the root logger at the sys.stderr of that moment,
    which is the test's captured stream; pytest closes it after the test, and every
    later record (a consumer's, aiosmtpd's) would print a "Logging error" traceback.
    """
    root, pika = logging.getLogger(), logging.getLogger("pika")
    handlers, level, pika_level = list(root.handlers), root.level, pika.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    pika.setLevel(pika_level)


@pytest.fixture(scope="session")
def rabbitmq():
    """The machine's broker, shared with other test runs: the tests only make vhosts on it."""
    broker = find_rabbitmq()
    if broker is None:
        unavailable("RabbitMQ")
    try:
        broker.check()
    except (RabbitMQError, OSError, subprocess.SubprocessError) as exc:
        broker.stop()
        pytest.exit(f"RabbitMQ at {broker.host}:{broker.port} is running, but the tests cannot make a vhost "
                    f"on it (rabbitmqctl must manage it: run the tests as root or as the rabbitmq user): {exc}",
                    returncode=pytest.ExitCode.TESTS_FAILED)
    yield broker
    left = broker.delete_vhosts()
    broker.stop()
    assert not left, f"test vhosts left on the broker: {left}"


@pytest.fixture(scope="session")
def private_rabbitmq(tmp_path_factory):
    """A RabbitMQ node of the session's own, shared by the tests marked ``private_broker``."""
    if rabbitmq_nodes.scripts_dir() is None:
        unavailable("rabbitmq-server (for a private RabbitMQ node)")
    with rabbitmq_nodes.private_node(tmp_path_factory.mktemp("rabbitmq")) as node:
        yield RabbitMQ(node.url(), node.ctl)


@pytest.fixture(scope="session")
def rabbitmq_cluster(tmp_path_factory):
    """``rabbitmq_cluster(n)``: a cluster of ``n`` private nodes, started once per session and size."""
    if rabbitmq_nodes.scripts_dir() is None:
        unavailable("rabbitmq-server (for a private RabbitMQ cluster)")
    with contextlib.ExitStack() as stack:
        clusters: dict[int, rabbitmq_nodes.Cluster] = {}

        def start(count: int) -> rabbitmq_nodes.Cluster:
            if count not in clusters:
                home = tmp_path_factory.mktemp(f"rabbitmq-cluster-{count}")
                clusters[count] = stack.enter_context(rabbitmq_nodes.start_cluster(home, count))
            return clusters[count]

        yield start


@pytest.fixture
def amqp_url(request):
    """A fresh vhost, topology not yet declared: on the shared broker, or on the session's
    private node for a test marked ``private_broker``.

    Deleted when the test ends (after the fixtures that use it): each live vhost holds a few
    of the broker's file descriptors (its message stores), and RabbitMQ's limit is often
    under a thousand, fewer than this suite's tests.
    """
    private = request.node.get_closest_marker("private_broker") is not None
    broker = request.getfixturevalue("private_rabbitmq" if private else "rabbitmq")
    vhost = broker.new_vhost()
    yield broker.url(vhost)
    broker.delete_vhosts([vhost])


class SMTPServer(Sink):
    """The test's SMTP peer: an aiosmtpd server keeping every message it accepts."""

    @property
    def messages(self):
        with self.handler.lock:
            return [message_from_bytes(r.data.replace(b"\r\n", b"\n"), policy=policy.default)
                    for r in self.handler.received]

    @property
    def received(self):
        with self.handler.lock:
            return list(self.handler.received)

    def wait_for_messages(self, count: int, timeout: float = 30.0):
        wait_for(lambda: len(self.handler.received) >= count, timeout, what=f"{count} mail(s) at the SMTP server")
        return self.messages


@pytest.fixture
def smtp_server():
    server = SMTPServer(port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def start_smtp():
    """Start an SMTP server with a given aiosmtpd handler (tests/faults.py); stopped at teardown."""
    servers: list[SMTPServer] = []

    def start(handler, port: int | None = None) -> SMTPServer:
        server = SMTPServer(port=port or free_port(), handler=handler).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def senders_dir(tmp_path) -> Path:
    """A senders directory with the project's example file activated (copied to .xml)."""
    folder = tmp_path / "senders"
    folder.mkdir()
    shutil.copy(EXAMPLE_SENDERS, folder / "mail-senders.xml")
    return folder


def write_directory(path: Path, experimenters: list[dict], groups: list[dict] | None = None) -> Path:
    groups = groups or [{"id": 0, "name": "system"}, {"id": 1, "name": "user"}, {"id": 2, "name": "guest"}]
    path.write_text(json.dumps({"groups": groups, "experimenters": experimenters}))
    return path


@pytest.fixture
def directory_file(tmp_path) -> Path:
    """Two admins with an address, one without, and an ordinary user."""
    return write_directory(tmp_path / "directory.json", [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
        {"id": 1, "omeName": "guest", "email": None, "groups": ["guest"]},
        {"id": 2, "omeName": "alice", "email": "alice@example.org", "groups": ["system", "user"]},
        {"id": 3, "omeName": "bob", "email": None, "groups": ["system", "user"]},
        {"id": 4, "omeName": "carol", "email": "carol@example.org", "groups": ["user"]},
    ])


@pytest.fixture
def props(amqp_url, smtp_server, senders_dir, directory_file) -> Properties:
    return Properties({
        "omero.mail.config": "true",
        "omero.mail.broker.url": amqp_url,
        "omero.mail.host": "127.0.0.1",
        "omero.mail.port": str(smtp_server.port),
        "omero.mail.from": "omero@example.org",
        "omero.mail.senders.dir": str(senders_dir),
        "omero.mail.directory.file": str(directory_file),
        "omero.mail.retry.delays": "1s,2s",
        "omero.mail.smtp.connectiontimeout": "5000",
        "omero.mail.smtp.timeout": "5000",
    })


class RunningService:
    def __init__(self, service: Service):
        self.service = service
        self.thread = threading.Thread(target=service.run, name="test-service", daemon=True)

    def start(self) -> "RunningService":
        self.thread.start()
        if not self.service.consumer.connected.wait(30):
            pytest.fail("consumer did not connect within 30s")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.service.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "consumer did not stop"


@pytest.fixture
def make_service(props):
    """Start the consumer with the test's properties (plus overrides); stopped at teardown."""
    running: list[RunningService] = []

    def start(stages=("rules", "delivery"), **overrides) -> RunningService:
        merged = Properties(dict((k, props._raw[k]) for k in props._raw))
        merged.update({k.replace("__", "."): v for k, v in overrides.items()}, origin="test")
        service = RunningService(Service(merged, tuple(stages))).start()
        running.append(service)
        return service

    yield start
    for service in running:
        if service.thread.is_alive():
            service.stop()


@pytest.fixture
def publish(props):
    """Publish one event (or a raw body) to the test's broker, confirmed."""
    publisher = Publisher(props["omero.mail.broker.url"])
    declare_topology(props["omero.mail.broker.url"], topology_for(props))

    def send(kind: str, data: dict | None = None, *, raw: bytes | None = None, routing_key: str | None = None):
        if raw is not None:
            message_id = str(uuid.uuid4())
            publisher.publish(Message(topo.EVENTS_EXCHANGE, routing_key or kind, raw, message_id))
            return message_id
        event = new_event(kind, data or {}, source="tests")
        publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
        return event

    yield send
    publisher.close()


@pytest.fixture
def postgres_dsn():
    """A fresh, empty PostgreSQL database for this test; dropped afterwards."""
    base = find_postgres_dsn()
    if base is None:
        unavailable("PostgreSQL")
    import psycopg

    name = f"omero_mail_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = [p for p in base.split() if not p.startswith("dbname=")]
    yield " ".join(parts + [f"dbname={name}"])
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
