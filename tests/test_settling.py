"""Every message a stage takes ends: acked after its effects are confirmed, parked with a
reason, or given back to the broker, whatever raises and wherever (process, settle, a
callback on the I/O loop, a loop closed by a lost connection). Real broker, real SMTP server.

The rules stage claims an event's id while it plans it, so a second copy waits instead of
planning it again (consumer/memory/state.py). Each test here is a path on which that claim used to
stay held: every later copy then waited behind it, unacknowledged, and with a prefetch's
worth of such events the stage stopped mailing at all.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest

from consumer.outbox import outbox_message
from events import topology as topo
from events.broker import Message, Publisher, queue_depths
from events.schemas import new_event
from senders.plan import Plan

from .conftest import take_all, wait_for
from .faults import Proxy, outbox_mail
from .test_faults_broker import through
from .test_identities import accounts, people, site, stages  # noqa: F401 - fixtures of the generated roles

ADMINS = 2  # the example senders mail server.startup to root and alice
SURROGATE_WEB_ERROR = {"status": 404, "method": "GET", "path": "/x\ud800"}
WEB_ADMINS = '[["Web Admin", "webadmin@example.org"]]'  # so a web.error is mailed


def raw_event(kind: str, data: dict) -> bytes:
    """An event as a publisher outside Python's encoder could send it: valid JSON, any escapes."""
    return json.dumps({"id": str(uuid.uuid4()), "type": kind, "occurred_at": datetime.now(timezone.utc).isoformat(),
                       "source": "tests", "data": data}).encode()


@pytest.fixture
def settled(rabbitmq, props):
    """Wait until the work queues hold nothing, ready or unacknowledged (rabbitmqctl counts both)."""
    vhost = unquote(props["omero.mail.broker.url"].rsplit("/", 1)[1])

    def held() -> int:
        listed = rabbitmq.ctl("list_queues", "-q", "--no-table-headers", "-p", vhost, "name", "messages")
        counts = dict(line.split() for line in listed.stdout.decode().splitlines() if line.strip())
        return sum(int(counts.get(queue, 0)) for queue in (topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE))

    return lambda: wait_for(lambda: held() == 0, timeout=30, interval=1.0, what="nothing left ready or unacked")


def test_a_web_error_whose_path_holds_a_lone_surrogate_is_parked_as_invalid_with_its_reason(
        make_service, publish, props, smtp_server):
    make_service(omero__web__admins=WEB_ADMINS)
    publish("web.error", raw=raw_event("web.error", SURROGATE_WEB_ERROR))
    url = props["omero.mail.broker.url"]
    wait_for(lambda: queue_depths(url, [topo.INVALID_QUEUE])[topo.INVALID_QUEUE] == 1, what="the event parked")
    [(headers, _body)] = take_all(url, topo.INVALID_QUEUE)
    assert headers["x-omero-mail-reason"].startswith("data.path: ")
    assert "surrogate" in headers["x-omero-mail-reason"]


def test_a_prefetch_of_surrogate_web_errors_does_not_stop_the_next_event_being_mailed(
        make_service, publish, props, smtp_server, settled):
    make_service(omero__mail__consumer__prefetch="5", omero__web__admins=WEB_ADMINS)
    for _ in range(8):
        publish("web.error", raw=raw_event("web.error", SURROGATE_WEB_ERROR))
    time.sleep(2)  # the web errors are taken (and, before the fix, their claims stranded) first
    publish("server.startup")
    smtp_server.wait_for_messages(ADMINS)
    settled()


def test_an_event_nested_too_deeply_to_read_is_parked_as_invalid_and_the_next_is_mailed(
        make_service, publish, props, smtp_server, settled):
    make_service()
    publish("web.error", raw=b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    publish("server.startup")
    smtp_server.wait_for_messages(ADMINS)
    url = props["omero.mail.broker.url"]
    wait_for(lambda: queue_depths(url, [topo.INVALID_QUEUE])[topo.INVALID_QUEUE] == 1, what="the event parked")
    [(headers, _body)] = take_all(url, topo.INVALID_QUEUE)
    assert headers["x-omero-mail-reason"] == "body is nested too deeply"
    settled()


def test_an_outbox_message_with_a_hand_made_attempt_count_is_delivered(make_service, props, smtp_server, settled):
    make_service()
    mail = outbox_mail("root@example.org")
    message = outbox_message(mail)
    with Publisher(props["omero.mail.broker.url"]) as publisher:
        publisher.publish(replace(message, headers={**(message.headers or {}), "x-omero-mail-attempts": "x"}))
    assert smtp_server.wait_for_messages(1)[0]["Message-ID"] == mail.message_id
    settled()


class Unserialisable:
    """A planned email whose outbox message cannot be built: a fault in settle, after the claim."""

    message_id = "<unserialisable@example.org>"
    event_id = "unserialisable"
    sender = "serverUpMailSender"
    to = "root@example.org"

    def to_json(self) -> bytes:
        raise ValueError("cannot serialise this mail")


def test_an_event_that_crashes_while_its_mails_are_published_is_planned_again_not_held(
        make_service, publish, props, smtp_server, settled):
    service = make_service()
    rules = service.service.rules
    crashes = []

    def crash_once(event):
        crashes.append(event.id)
        del rules.planners["server.startup"]  # the copies after this one are planned by the XML senders
        return Plan(mails=[Unserialisable()], senders=["serverUpMailSender"])

    rules.planners["server.startup"] = crash_once
    publish("server.startup")
    smtp_server.wait_for_messages(ADMINS)
    assert len(crashes) == 1
    settled()


def test_an_event_whose_confirm_callback_raises_is_given_back_and_planned_again(
        make_service, publish, props, smtp_server, settled):
    service = make_service()
    rules = service.service.rules
    raised = []
    heard = rules.listeners.heard

    def raise_once(outcome, reason):
        if not raised:
            raised.append(outcome)
            raise RuntimeError("a listener that fails on the I/O loop")
        return heard(outcome, reason)

    rules.listeners.heard = raise_once
    publish("server.startup")
    smtp_server.wait_for_messages(ADMINS)
    assert raised
    settled()
    assert service.service.consumer.reconnects == 0, "the callback's failure cost the connection"


@pytest.fixture
def proxy(rabbitmq):
    proxy = Proxy(rabbitmq.host, rabbitmq.port)
    yield proxy
    proxy.close()


def test_an_event_being_planned_when_the_connection_drops_is_planned_again_after_reconnecting(
        make_service, publish, props, smtp_server, proxy, settled):
    service = make_service(omero__mail__broker__url=through(props["omero.mail.broker.url"], proxy.port))
    rules = service.service.rules
    planning, cut = threading.Event(), threading.Event()
    calls = []
    plan = rules.plan

    def plan_across_a_cut(event):
        calls.append(event.id)
        if len(calls) == 1:
            planning.set()
            cut.wait(15)
        return plan(event)

    rules.plan = plan_across_a_cut
    publish("server.startup")
    assert planning.wait(15)
    proxy.cut()
    time.sleep(1)
    cut.set()  # the plan is settled while no loop runs: what it publishes reports "lost"
    time.sleep(0.5)
    proxy.restore()
    smtp_server.wait_for_messages(ADMINS, timeout=30)
    settled()
    assert len(calls) == 2


@pytest.mark.private_broker
def test_an_event_id_published_first_by_another_broker_user_does_not_fold_the_real_event(request, smtp_server):
    """The bridge's ids can be predicted (uuid5 of OMERO's database and the eventlog id): a web
    user who publishes one first must not make the bridge's own event a "duplicate"."""
    roles = request.getfixturevalue("stages")  # the stages run as their own broker users, checks on
    taken = new_event("web.error", {"status": 404, "method": "GET", "path": "/"}, source="mallory")
    with Publisher(roles.url("web"), attempts=1, timeout=10) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, taken.type, taken.to_json(), taken.id))
    real = new_event("server.startup", {}, source="bridge", event_id=taken.id)
    with Publisher(roles.url("bridge"), attempts=1, timeout=10) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, real.type, real.to_json(), real.id))
    mails = smtp_server.wait_for_messages(1)
    assert mails[0]["Subject"] == "[OMERO] Server started"
