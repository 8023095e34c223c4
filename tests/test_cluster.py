"""omero-mail on a three-node RabbitMQ cluster of the session's own, given every node's address.

One cluster serves every test here (``rabbitmq_cluster(3)``), each test in a vhost of its
own; the queues are quorum queues (several addresses mean a cluster). What is killed:
the node a consumer is connected to (``kill -9`` of its Erlang VM, started again after
the test), and a rules-stage process (``kill -9``).
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections import defaultdict
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from consumer.stages.service import Service
from events import topology as topo
from events.broker import Message, Publisher
from events.config import Properties
from events.schemas import new_event

from .conftest import EXAMPLE_SENDERS, RunningService, wait_for, write_directory
from .test_flood_storm import FAILED_LOGIN_SENDER, SOURCES

OMERO_MAIL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "omero-mail")
RECIPIENTS = 2000
ADMINS = ["alice@example.org", "root@example.org"]
HEADERS = BytesHeaderParser()


@pytest.fixture
def cluster(rabbitmq_cluster):
    return rabbitmq_cluster(3)


@pytest.fixture
def cluster_url(cluster):
    """A vhost of the test's own on the cluster, and a URL naming all three nodes."""
    vhost = f"omero-mail-test-{uuid.uuid4().hex[:8]}"
    cluster.seed.ctl("add_vhost", vhost)
    cluster.seed.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield "amqp://guest:guest@" + ",".join(f"127.0.0.1:{node.amqp_port}" for node in cluster.nodes) + f"/{vhost}"
    cluster.seed.ctl("delete_vhost", vhost, check=False)


@pytest.fixture
def cluster_props(cluster_url, smtp_server, tmp_path, directory_file) -> Properties:
    senders = tmp_path / "senders"
    senders.mkdir()
    (senders / "mail-senders.xml").write_text(EXAMPLE_SENDERS.read_text())
    return Properties({
        "omero.mail.config": "true",
        "omero.mail.broker.url": cluster_url,
        "omero.mail.host": "127.0.0.1",
        "omero.mail.port": str(smtp_server.port),
        "omero.mail.from": "omero@example.org",
        "omero.mail.senders.dir": str(senders),
        "omero.mail.directory.file": str(directory_file),
        "omero.mail.retry.delays": "1s,2s",
        "omero.mail.smtp.connectiontimeout": "5000",
        "omero.mail.smtp.timeout": "5000",
    })


@pytest.fixture
def start(cluster_props):
    """Start a consumer in this process with the test's properties (plus overrides)."""
    running: list[RunningService] = []

    def start_service(stages=("rules", "delivery"), **overrides) -> RunningService:
        props = Properties(dict(cluster_props._raw))
        props.update({k.replace("__", "."): v for k, v in overrides.items()}, origin="test")
        service = RunningService(Service(props, tuple(stages))).start()
        running.append(service)
        return service

    yield start_service
    for service in running:
        if service.thread.is_alive():
            service.stop()


def publish(url: str, events, copies: int = 1) -> None:
    with Publisher(url) as publisher:
        publisher.publish_many([Message(topo.EVENTS_EXCHANGE, e.type, e.to_json(), e.id)
                                for e in events for _ in range(copies)])


def messages_in(cluster, url: str, queue: str) -> int:
    """Ready and unacked messages of ``queue``."""
    vhost = url.rsplit("/", 1)[1]
    listed = cluster.seed.ctl("list_queues", "-q", "-p", vhost, "name", "messages").stdout.decode()
    return sum(int(count) for name, count in (line.split("\t") for line in listed.splitlines()) if name == queue)


def headers(server) -> list:
    return [HEADERS.parsebytes(record.data) for record in server.received]


def test_killing_the_node_a_consumer_is_connected_to_mid_broadcast_loses_no_mail(
        cluster, cluster_url, start, smtp_server, tmp_path):
    people = write_directory(tmp_path / "people.json", [
        {"id": 0, "omeName": "root", "email": None, "groups": ["system", "user"]},
        *({"id": n, "omeName": f"user{n}", "email": f"user{n}@example.org", "groups": ["user"]}
          for n in range(1, RECIPIENTS + 1))])
    service = start(omero__mail__directory__file=str(people), omero__mail__delivery__connections="4")
    publish(cluster_url, [new_event("admin.broadcast", {"subject": "Maintenance", "body": "At noon.",
                                                        "everyone": True, "requested_by": "root"},
                                     source="tests")])
    smtp_server.wait_for_messages(300, timeout=60)
    port = int(service.service.consumer.node.rsplit(":", 1)[1])
    victim = next(node for node in cluster.nodes if node.amqp_port == port)
    try:
        before = len(smtp_server.received)
        victim.kill()
        killed = time.monotonic()
        # The SMTP server may still get a few mails the workers held: flowing again means
        # mail that came through the new connection, after the reconnection.
        wait_for(lambda: service.service.consumer.node not in (None, f"127.0.0.1:{port}"), timeout=30,
                 interval=0.01, what="a connection to another node")
        reconnected = len(smtp_server.received)
        wait_for(lambda: len(smtp_server.received) > max(before, reconnected), timeout=30, interval=0.01,
                 what="mail flowing again")
        flowing = time.monotonic() - killed
        print(f"\nkill -9 of node {victim.name}: connected to {service.service.consumer.node}, "
              f"mail flowing again after {flowing:.2f}s")
        wait_for(lambda: len({h["To"] for h in headers(smtp_server)}) >= RECIPIENTS, timeout=180,
                 what="every recipient's mail")
    finally:
        victim.start().wait_until_running()
    ids_by_recipient = defaultdict(set)
    for mail in headers(smtp_server):
        ids_by_recipient[mail["To"]].add(mail["Message-ID"])
    assert len(ids_by_recipient) == RECIPIENTS
    assert all(len(ids) == 1 for ids in ids_by_recipient.values()), "a duplicate with another Message-ID"
    print(f"{len(smtp_server.received) - RECIPIENTS} duplicate(s), each with its original's Message-ID")
    assert flowing < 10


def failed_logins(count: int, start: int = 0):
    return [new_event("login.failed", {"user": "root", "remote_addr": SOURCES[n % len(SOURCES)]}, "tests")
            for n in range(start, start + count)]


@pytest.fixture
def failed_login_senders(tmp_path):
    folder = tmp_path / "failed-login-senders"
    folder.mkdir()
    (folder / "mail-senders.xml").write_text(FAILED_LOGIN_SENDER)
    return folder


def mails_by_admin(server) -> dict[str, list[str]]:
    found = defaultdict(list)
    for mail in headers(server):
        found[mail["To"]].append(str(mail["Subject"]))
    return found


def rules_stage(config: Path) -> subprocess.Popen:
    return subprocess.Popen([OMERO_MAIL, "--config", str(config), "consume", "--stage", "rules"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_until_consuming(process: subprocess.Popen) -> None:
    for line in process.stderr:
        if "consuming" in line:
            return
    pytest.fail(f"the rules stage exited ({process.wait()}) before consuming")


def test_a_standby_rules_stage_takes_over_from_a_killed_one_and_the_flood_count_carries_on(
        cluster, cluster_url, cluster_props, start, smtp_server, failed_login_senders, tmp_path):
    config = tmp_path / "rules.properties"
    settings = dict(cluster_props._raw, **{"omero.mail.senders.dir": str(failed_login_senders),
                                           "omero.mail.flood.window": "10m"})
    config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    start(stages=("delivery",))
    active = rules_stage(config)
    wait_until_consuming(active)
    standby = rules_stage(config)
    wait_until_consuming(standby)
    try:
        publish(cluster_url, failed_logins(5))
        smtp_server.wait_for_messages(3 * len(ADMINS), timeout=30)
        wait_for(lambda: messages_in(cluster, cluster_url, topo.EVENTS_QUEUE) == 0, what="the five events acked")
        active.send_signal(signal.SIGKILL)
        active.wait(10)
        publish(cluster_url, failed_logins(5, start=5))
        wait_for(lambda: messages_in(cluster, cluster_url, topo.EVENTS_QUEUE) == 0, timeout=30,
                 what="the standby handling the next five")
        standby.send_signal(signal.SIGTERM)  # a graceful stop sends the digests owed, now
        assert standby.wait(30) == 0
        smtp_server.wait_for_messages(4 * len(ADMINS), timeout=30)
    finally:
        for process in (active, standby):
            if process.poll() is None:
                process.kill()
                process.wait(10)
    for subjects in mails_by_admin(smtp_server).values():
        assert sorted(subjects) == (["[OMERO] Login failed for 'root'"] * 3
                                    + ["[OMERO] Login failed for 'root' (7 more)"])


def test_an_event_published_twice_and_again_after_a_rules_stage_restart_is_mailed_once(
        cluster_url, start, smtp_server):
    start(stages=("delivery",))
    rules = start(stages=("rules",))
    event = new_event("server.startup", {}, source="tests")
    publish(cluster_url, [event], copies=2)
    smtp_server.wait_for_messages(len(ADMINS))
    rules.stop()
    start(stages=("rules",))
    publish(cluster_url, [event, new_event("server.shutdown", {}, source="tests")])
    smtp_server.wait_for_messages(2 * len(ADMINS))
    time.sleep(0.5)
    subjects = sorted(str(h["Subject"]) for h in headers(smtp_server))
    assert subjects == ["[OMERO] Server shutdown"] * 2 + ["[OMERO] Server started"] * 2


def test_two_rules_stages_fold_a_thousand_failed_logins_as_one_would(
        cluster, cluster_url, start, smtp_server, failed_login_senders):
    start(stages=("delivery",))
    stages = [start(stages=("rules",), omero__mail__senders__dir=str(failed_login_senders)) for _ in range(2)]
    publish(cluster_url, failed_logins(1000))
    wait_for(lambda: messages_in(cluster, cluster_url, topo.EVENTS_QUEUE) == 0, timeout=90,
             what="every event handled")
    for stage in stages:
        stage.stop()
    smtp_server.wait_for_messages(4 * len(ADMINS), timeout=30)
    time.sleep(0.5)
    for subjects in mails_by_admin(smtp_server).values():
        assert sorted(subjects) == (["[OMERO] Login failed for 'root'"] * 3
                                    + ["[OMERO] Login failed for 'root' (997 more)"])
