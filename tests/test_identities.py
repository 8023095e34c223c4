"""Who may publish what, against a real broker holding the generated users and permissions.

Each test's vhost is on the session's private RabbitMQ node, so the broker users made
here are that node's, never the shared broker's. The users are made with rabbitmqctl and
their permissions imported from ``omero-mail definitions --users``, as README's
Deployment section does; the stages then run as their own users with the checks on.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pytest

from consumer.admin import cli, results
from consumer.access.credentials import with_login
from consumer.access.definitions import definitions
from consumer.access import roles
from events import topology as topo
from events.broker import Message, PublishError, Publisher, queue_depths
from events.schemas import new_event
from events.session_proof import session_proof, with_session_proof
from senders.mail import message_id

from .conftest import take_all, wait_for, write_directory

pytestmark = pytest.mark.private_broker

PASSWORD = "s3cret-for-tests"
#: The roles with a broker user of their own (the admins' users are named after them).
ROLES = ("rules", "delivery", "web", "bridge", "replay", "server", "webapp")
CHECKS = "omero.mail.broker.check-publishers"


@pytest.fixture
def people(tmp_path):
    return write_directory(tmp_path / "people.json", [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
        {"id": 2, "omeName": "alice", "email": "alice@example.org", "groups": ["system", "user"]},
        {"id": 4, "omeName": "carol", "email": "carol@example.org", "groups": ["user"]},
    ])


@pytest.fixture(scope="module")
def accounts(private_rabbitmq):
    """One broker user per role on the private node, made once for the module's tests."""
    suffix = uuid.uuid4().hex[:6]
    users = {"rules": f"rules-{suffix}", "delivery": f"delivery-{suffix}", "web": f"web-{suffix}",
             "bridge": f"bridge-{suffix}", "replay": f"replay-{suffix}", "server": f"server-{suffix}",
             "webapp": f"webapp-{suffix}", "root": "root", "alice": "alice"}
    for user in users.values():
        if private_rabbitmq.ctl("add_user", user, PASSWORD, check=False).returncode:
            private_rabbitmq.ctl("change_password", user, PASSWORD)
    yield users
    for role in ROLES:
        private_rabbitmq.ctl("delete_user", users[role], check=False)


class Site:
    """The test's vhost with the roles' permissions imported, as a site sets it up."""

    def __init__(self, broker, url: str, props, people, users: dict[str, str]):
        self.broker = broker
        self.guest_url = url
        self.vhost = unquote(url.rsplit("/", 1)[1])
        self.users = users
        self.properties = {
            CHECKS: "true", "omero.mail.queue.policies": "true", "omero.mail.directory.file": str(people),
            **{f"omero.mail.broker.{role}-user": users[role] for role in ROLES},
        }
        self.topology = topo.from_properties(props)
        grants = roles.grants(self.topology, **{role: users[role] for role in ROLES}, admins=["root", "alice"])
        self._import(definitions(self.topology, self.vhost, grants))

    def _import(self, document: dict) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
            json.dump(document, out)
        try:
            os.chmod(out.name, 0o644)
            self.broker.ctl("import_definitions", out.name)
        finally:
            os.unlink(out.name)
        wait_for(lambda: self.users["web"] in self.broker.ctl("list_permissions", "-q", "-p", self.vhost)
                 .stdout.decode(), what="the permissions imported")

    def url(self, role: str) -> str:
        return with_login(self.guest_url, self.users[role], PASSWORD)


@pytest.fixture
def site(private_rabbitmq, amqp_url, props, people, accounts):
    return Site(private_rabbitmq, amqp_url, props, people, accounts)


@pytest.fixture
def stages(site, make_service):
    """The rules and delivery stages, each a process of its own as its own broker user."""
    for stage in ("rules", "delivery"):
        make_service((stage,), omero__mail__broker__url=site.url(stage),
                     **{k.replace(".", "__"): v for k, v in site.properties.items()})
    return site


def publish(url: str, kind: str, data: dict, routing_key: str | None = None):
    event = new_event(kind, data, source="tests")
    with Publisher(url, attempts=1, timeout=10) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, routing_key or kind, event.to_json(), event.id))
    return event


def parked(url: str, queue: str, count: int = 1) -> list[tuple[dict, bytes]]:
    wait_for(lambda: queue_depths(url, [queue])[queue] == count, what=f"{count} message(s) parked in {queue}")
    return take_all(url, queue)


BROADCAST = {"subject": "S", "body": "B", "everyone": True, "requested_by": "root"}
VALID_DATA = {"admin.broadcast": BROADCAST, "login.failed": {"user": "root"},
              "web.error": {"status": 500, "method": "GET", "path": "/"}}


def test_the_bridge_role_publishes_its_events_and_the_stages_deliver_them(stages, smtp_server):
    publish(stages.url("bridge"), "server.startup", {})
    assert smtp_server.wait_for_messages(1)


@pytest.mark.parametrize("role, key", [("web", "admin.broadcast"), ("web", "login.failed"),
                                       ("bridge", "admin.broadcast"), ("bridge", "web.error"),
                                       ("root", "login.failed"), ("root", "web.error")])
def test_a_publisher_role_cannot_publish_another_roles_events_at_all(site, role, key):
    with pytest.raises(PublishError, match="ACCESS_REFUSED"):
        publish(site.url(role), key, VALID_DATA[key])


@pytest.mark.parametrize("role", ["web", "bridge", "root"])
def test_no_publisher_role_can_write_to_the_outbox(site, role):
    with Publisher(site.url(role), attempts=1, timeout=10) as publisher:
        with pytest.raises(PublishError, match="ACCESS_REFUSED"):
            publisher.publish(Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, b"{}", "forged"))


def test_a_forged_broadcast_from_the_web_role_mails_nobody_and_is_parked_with_the_reason(stages, smtp_server):
    event = publish(stages.url("web"), "admin.broadcast", BROADCAST, routing_key="web.error")
    [(headers, body)] = parked(stages.guest_url, topo.INVALID_QUEUE)
    assert json.loads(body)["id"] == event.id
    assert "routing key 'web.error'" in headers["x-omero-mail-reason"]
    assert smtp_server.received == []


def test_a_broadcast_as_another_admin_is_parked_and_status_says_refused(stages, smtp_server, tmp_path, capsys,
                                                                         monkeypatch):
    url = stages.url("root")
    event = new_event("admin.broadcast", {**BROADCAST, "requested_by": "alice"}, source="tests")
    results.declare(url, stages.topology, event.id, 60_000)
    with Publisher(url, attempts=1) as publisher:
        publisher.publish_many([results.queued(event.id),
                                Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id)])
    [(headers, _body)] = parked(stages.guest_url, topo.INVALID_QUEUE)
    assert "broker user 'root' may not broadcast as 'alice'" in headers["x-omero-mail-reason"]
    code, out, _ = run_broadcast(stages, tmp_path, capsys, monkeypatch, "status", event.id)
    assert code == 0 and "Refused, nothing sent: refused: broker user 'root' may not broadcast as 'alice'" in out
    assert smtp_server.received == []


def test_a_raw_outbox_message_from_anyone_but_the_rules_stage_is_parked_not_sent(stages, smtp_server):
    mail = {"message_id": "<forged@example.org>", "event_id": str(uuid.uuid4()), "event_type": "admin.broadcast",
            "sender": "adminBroadcast", "mail_from": "omero@example.org", "to": "victim@example.org",
            "subject": "s", "text": "t"}
    with Publisher(stages.guest_url) as publisher:  # guest: every permission on the vhost
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, json.dumps(mail).encode(), "forged"))
    [(headers, _body)] = parked(stages.guest_url, topo.FAILED_QUEUE)
    assert "published by broker user 'guest', not by the rules stage" in headers["x-omero-mail-reason"]
    assert smtp_server.received == []


def test_a_retry_of_the_delivery_stage_comes_back_to_the_outbox_and_is_sent(stages, smtp_server):
    mail = {"message_id": "<retry@example.org>", "event_id": str(uuid.uuid4()), "event_type": "server.startup",
            "sender": "serverUpMailSender", "mail_from": "omero@example.org", "to": "root@example.org",
            "subject": "s", "text": "t"}
    with Publisher(stages.url("delivery")) as publisher:
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.retry_key(1000), json.dumps(mail).encode(), "retry"))
    assert smtp_server.wait_for_messages(1)[0]["Message-ID"] == "<retry@example.org>"


def run_broadcast(site, tmp_path, capsys, monkeypatch, *args):
    """``omero-mail broadcast`` in this process as root, its password from the environment."""
    config = tmp_path / "broadcast.properties"
    values = {"omero.mail.broker.url": site.guest_url, "omero.mail.from": "omero@example.org",
              "omero.mail.broadcast.user": "root", **site.properties}
    config.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    monkeypatch.setenv("OMERO_MAIL_BROADCAST_PASSWORD", PASSWORD)
    code = cli.main(["broadcast", *args, "--config", str(config), "--log-level", "ERROR"])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_admin_broadcasts_as_themself_with_their_own_broker_user(stages, smtp_server, tmp_path, capsys,
                                                                     monkeypatch):
    code, out, err = run_broadcast(stages, tmp_path, capsys, monkeypatch, "Hello", "everyone", "--everyone",
                                   "--wait", "30")
    assert code == 0, err
    assert "Successfully sent 3 of 3 emails" in out


def test_an_admin_cannot_broadcast_as_another_admin(stages, smtp_server, tmp_path, capsys, monkeypatch):
    code, _, err = run_broadcast(stages, tmp_path, capsys, monkeypatch, "S", "B", "--everyone", "--as", "alice",
                                 "--no-wait")
    assert code == 13
    assert "You have no permissions to send email." in err and "may not broadcast as 'alice'" in err
    assert queue_depths(stages.guest_url, [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 0


def test_a_wrong_broker_password_is_refused_by_the_broker(stages, tmp_path, capsys, monkeypatch):
    config = tmp_path / "broadcast.properties"
    config.write_text("".join(f"{k}={v}\n" for k, v in {"omero.mail.broker.url": stages.guest_url,
                                                         **stages.properties}.items()))
    monkeypatch.setenv("OMERO_MAIL_BROADCAST_PASSWORD", "wrong")
    code = cli.main(["broadcast", "S", "B", "--everyone", "--no-wait", "--config", str(config)])
    assert code == 1 and "ACCESS_REFUSED" in capsys.readouterr().err


def test_a_broadcast_blocked_by_a_memory_alarm_names_its_id_and_the_same_id_again_gives_the_same_message_ids(
        private_rabbitmq, props, people, make_service, smtp_server, tmp_path, capsys, monkeypatch):
    """The development setup (guest), on the private node: the alarm blocks every publisher there."""
    make_service(omero__mail__directory__file=str(people))
    config = tmp_path / "broadcast.properties"
    values = {**props._raw, "omero.mail.directory.file": str(people), "omero.mail.broadcast.timeout": "2s"}
    config.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    ctl = private_rabbitmq.ctl
    watermark = ctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").stdout.decode().strip()
    float(watermark)  # a relative watermark, restored for the next test on the private node
    try:
        ctl("set_vm_memory_high_watermark", "0.0000001")
        code = cli.main(["broadcast", "S", "B", "--everyone", "--no-wait", "--config", str(config)])
    finally:
        ctl("set_vm_memory_high_watermark", watermark)
    err = capsys.readouterr().err
    assert code == 1 and "may still be delivered" in err
    event_id = err.split("broadcast ", 1)[1].split(" ", 1)[0]
    assert f"--id {event_id}" in err
    code = cli.main(["broadcast", "S", "B", "--everyone", "--no-wait", "--id", event_id, "--config", str(config)])
    assert code == 0
    expected = {message_id(event_id, "adminBroadcast", to, "example.org")
                for to in ("root@example.org", "alice@example.org", "carol@example.org")}
    wait_for(lambda: {m["Message-ID"] for m in smtp_server.messages} >= expected, what="the broadcast's emails")
    assert {m["Message-ID"] for m in smtp_server.messages} == expected


# -- The OMERO.web app's broker user: it broadcasts for whichever admin is logged in, with the
# -- proof of that admin's OMERO session (events/session_proof.py), checked in OMERO's database.

@pytest.fixture
def omero(omero_db):
    """OMERO's database with two admins who have an address, root and alice."""
    omero_db.set_email(0, "root@example.org")
    with omero_db.transaction() as tx:
        tx.new_experimenter("alice", "alice@example.org", groups=(0, 1))
    return omero_db


def grant_sessions(omero_db) -> None:
    """README's grant for the rules stage's role: SELECT on ``session`` beside the directory's tables."""
    role = omero_db.bridge_dsn.rsplit("user=", 1)[1]
    with omero_db.connect() as conn:
        conn.execute(f"GRANT SELECT ON session TO {role}")


def omero_stages(site, make_service, omero_db) -> None:
    """Both stages as their own broker users, the rules stage reading OMERO's database as a read-only role."""
    for stage in ("rules", "delivery"):
        make_service((stage,), omero__mail__broker__url=site.url(stage),
                     **{k.replace(".", "__"): v for k, v in site.properties.items()},
                     omero__mail__directory__backend="postgres", omero__mail__directory__dsn=omero_db.bridge_dsn)


def web_broadcast(site, admin: str, key: str):
    """What the web app publishes when ``admin`` is logged in with the OMERO session ``key``."""
    event = with_session_proof(new_event("admin.broadcast", {**BROADCAST, "requested_by": admin},
                                         source="omero-web"), session_proof(key))
    with Publisher(site.url("webapp"), attempts=1, timeout=10) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
    return event


def test_the_web_apps_broadcast_proved_by_the_admins_session_is_mailed_though_they_logged_out(
        site, omero, make_service, smtp_server):
    grant_sessions(omero)
    key = omero.open_session(0, started=datetime.now(timezone.utc) - timedelta(minutes=1))
    event = web_broadcast(site, "root", key)
    omero.close_session(key, datetime.now(timezone.utc))  # logged out before the rules stage looks
    omero_stages(site, make_service, omero)
    mails = smtp_server.wait_for_messages(2)
    assert {m["To"] for m in mails} == {"root@example.org", "alice@example.org"}
    assert {m["Message-ID"] for m in mails} == {message_id(event.id, "adminBroadcast", to, "example.org")
                                                for to in ("root@example.org", "alice@example.org")}


@pytest.mark.parametrize("admin, forged", [("root", True), ("alice", False)],
                         ids=["a-key-omero-never-issued", "another-admin-named"])
def test_the_web_apps_broadcast_without_a_session_of_its_admin_is_parked_as_untrusted_and_mails_nobody(
        site, omero, make_service, smtp_server, admin, forged):
    grant_sessions(omero)
    key = omero.open_session(0, started=datetime.now(timezone.utc) - timedelta(minutes=1))
    omero_stages(site, make_service, omero)
    event = web_broadcast(site, admin, str(uuid.uuid4()) if forged else key)
    [(headers, body)] = parked(site.guest_url, topo.INVALID_QUEUE)
    assert json.loads(body)["id"] == event.id
    assert (f"refused: broker user {site.users['webapp']!r} (the web app, omero.mail.broker.webapp-user) may "
            f"broadcast as {admin!r} only from a session of theirs live at") in headers["x-omero-mail-reason"]
    assert headers["x-omero-mail-untrusted"] == site.users["webapp"]
    assert smtp_server.received == []


def test_the_web_apps_broadcast_waits_while_omero_s_sessions_cannot_be_read_and_is_mailed_once_they_can(
        site, omero, make_service, smtp_server, caplog):
    key = omero.open_session(0, started=datetime.now(timezone.utc) - timedelta(minutes=1))
    omero_stages(site, make_service, omero)  # its role may read the directory, not yet the sessions
    with caplog.at_level(logging.WARNING, "consumer.stages.rules"):
        event = web_broadcast(site, "root", key)
        wait_for(lambda: f"event {event.id}: cannot read OMERO's sessions" in caplog.text, what="the read refused")
        grant_sessions(omero)
        assert len(smtp_server.wait_for_messages(2)) == 2
    assert "permission denied for table session; returning it to the queue" in caplog.text
    assert queue_depths(site.guest_url, [topo.INVALID_QUEUE])[topo.INVALID_QUEUE] == 0
