"""consumer/stages/sent_reports.py: sent emails reported per event, each report before its emails' acks."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pika

from consumer import outcomes
from consumer.outcomes import Sent
from consumer.stages.sent_reports import SentReports
from consumer.admin.sink import MaildirHandler
from consumer.stages.worker import Worker
from events import topology as topo
from senders.mail import Mail

from .conftest import take_all, wait_for
from .faults import outbox_mail, publish_mails


class Delivery:
    """What SentReports uses of a delivery: publish, ack, live; every call in one shared log."""

    def __init__(self, log: list, name: str, live: bool = True):
        self.log, self.name, self.live = log, name, live

    def publish(self, message, done=None) -> None:
        self.log.append(("publish", message.routing_key, json.loads(message.body)))

    def ack(self) -> None:
        self.log.append(("ack", self.name))


def entry(number: int) -> dict:
    return {"message_id": f"<{number}@example.org>", "sender": "broadcast", "recipient": f"u{number}@example.org",
            "attempts": 1}


def held(**bounds) -> SentReports:
    """Reports whose time bound (50 ms by default) never comes within a test: only ``flush`` and
    the cap send, so a stall of the machine between two steps cannot send what a step expects held."""
    return SentReports(longest=3600.0, **bounds)


def test_one_email_alone_is_reported_in_the_one_email_form_before_its_ack():
    log: list = []
    reports = held()
    reports.add(Delivery(log, "a"), "e1", entry(1))
    reports.flush()
    [(_, key, body), ack] = log
    assert key == "e1.sent" and body["message_id"] == "<1@example.org>" and "emails" not in body
    assert ack == ("ack", "a")


def test_emails_of_one_event_are_one_report_published_before_all_their_acks():
    log: list = []
    reports = held()
    for number in range(3):
        reports.add(Delivery(log, f"d{number}"), "e1", entry(number))
    assert log == []  # held until the stage has nothing else queued
    reports.flush()
    assert log[0][0] == "publish" and [each["message_id"] for each in log[0][2]["emails"]] == [
        "<0@example.org>", "<1@example.org>", "<2@example.org>"]
    assert log[1:] == [("ack", "d0"), ("ack", "d1"), ("ack", "d2")]


def test_each_event_gets_its_own_report():
    log: list = []
    reports = held()
    reports.add(Delivery(log, "a"), "e1", entry(1))
    reports.add(Delivery(log, "b"), "e2", entry(2))
    reports.flush()
    assert sorted(key for kind, key, *_ in log if kind == "publish") == ["e1.sent", "e2.sent"]


def test_a_full_report_goes_out_at_once():
    log: list = []
    reports = held(most=2)
    reports.add(Delivery(log, "a"), "e1", entry(1))
    reports.add(Delivery(log, "b"), "e1", entry(2))
    assert [kind for kind, *_ in log] == ["publish", "ack", "ack"] and len(reports) == 0


def test_an_email_whose_connection_was_lost_is_neither_reported_nor_acked():
    log: list = []
    reports = held()
    reports.add(Delivery(log, "gone", live=False), "e1", entry(1))
    reports.add(Delivery(log, "kept"), "e1", entry(2))
    reports.flush()
    assert log[0][2]["message_id"] == "<2@example.org>" and log[1:] == [("ack", "kept")]


def test_a_report_of_several_emails_reads_as_each_emails_own_outcome():
    report = json.loads(outcomes.sent_report("e1", [entry(1), entry(2)]).body)
    each = outcomes.emails_of(report)
    assert [e["message_id"] for e in each] == ["<1@example.org>", "<2@example.org>"]
    assert all(e["outcome"] == "sent" and e["event_id"] == "e1" and e["at"] == report["at"] for e in each)
    assert outcomes.emails_of(json.loads(outcomes.sent_report("e1", [entry(3)]).body))[0]["message_id"] == \
        "<3@example.org>"


def test_the_cap_counts_the_emails_of_every_event_together():
    log: list = []
    reports = held(most=3)
    reports.add(Delivery(log, "a"), "e1", entry(1))
    reports.add(Delivery(log, "b"), "e2", entry(2))
    assert log == []
    reports.add(Delivery(log, "c"), "e3", entry(3))
    assert sorted(key for kind, key, *_ in log if kind == "publish") == ["e1.sent", "e2.sent", "e3.sent"]
    assert len(reports) == 0


def test_what_is_held_is_due_once_the_oldest_has_waited_long_enough():
    # The test's clock moves for the test's thread only. The sender thread (started by the first
    # add) always reads the start time, so it never finds anything due and cannot flush between
    # the test's steps, whenever it is scheduled: it only sleeps, and ends after the last flush.
    test_thread, now = threading.current_thread(), [10.0]
    reports = SentReports(longest=5.0, clock=lambda: now[0] if threading.current_thread() is test_thread else 10.0)
    assert reports.due() is None
    reports.add(Delivery([], "a"), "e1", entry(1))
    now[0] += 3.0
    reports.add(Delivery([], "b"), "e1", entry(2))
    assert abs(reports.due() - 2.0) < 1e-9
    now[0] += 3.0
    assert reports.due() == 0
    reports.flush()


class Sending(Worker):
    """A stage whose every message is an email sent after ``pause`` seconds."""

    name, queue, parking, crashed, crash_reason = "sending", "q", "p", "%s", "crashed"

    def __init__(self, pause: float):
        super().__init__(threads=1)
        self.pause = pause

    def process(self, delivery):
        time.sleep(self.pause)
        mail = Mail(f"<{delivery.message_id}@example.org>", delivery.event_id, "admin.broadcast", "broadcast",
                    "omero@example.org", "u@example.org", "s", "t")
        return Sent(mail, 1)


class QueuedDelivery(Delivery):
    """A delivery as the worker sees one: headers, ids, live; its ack timed."""

    def __init__(self, log: list, event_id: str, number: int, acked: dict):
        super().__init__(log, f"{event_id}-{number}")
        self.headers, self.message_id, self.body, self.event_id = {}, f"{event_id}-{number}", b"", event_id
        self.acked = acked

    def ack(self) -> None:
        self.acked[self.name] = time.monotonic()


def test_a_backlog_does_not_hold_an_earlier_events_report_and_ack_back():
    log: list = []
    acked: dict = {}
    stage = Sending(pause=0.002)
    stage.start()
    started = time.monotonic()
    stage.handle(QueuedDelivery(log, "small", 0, acked))
    for number in range(400):  # about 0.8 s of work queued behind it
        stage.handle(QueuedDelivery(log, "big", number, acked))
    stage.close()
    assert acked["small-0"] - started < 0.3
    assert len(acked) == 401


def test_a_report_held_while_its_thread_waits_on_a_slow_job_goes_out_within_its_bound():
    log: list = []
    acked: dict = {}
    stage = Sending(pause=0.0)
    stage.start()
    first = QueuedDelivery(log, "first", 0, acked)
    stage.handle(first)
    stage.submit(time.sleep, 1.0)  # the thread is busy with something else for a second
    started = time.monotonic()
    wait_for(lambda: "first-0" in acked, timeout=5, what="the first email's ack")
    assert acked["first-0"] - started < 0.5
    assert [kind for kind, *_ in log] == ["publish"]
    stage.close()


class SlowSecondMail(MaildirHandler):
    """Accepts every mail, the second after ``pause`` seconds; keeps when each was accepted."""

    def __init__(self, pause: float):
        super().__init__()
        self.pause = pause
        self.accepted_at: list[float] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            second = len(self.received) == 1
        if second:
            await asyncio.sleep(self.pause)
        reply = await super().handle_DATA(server, session, envelope)
        self.accepted_at.append(time.monotonic())
        return reply


def bind_audit(url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare("audit", durable=True)
    channel.queue_bind("audit", topo.RESULTS_EXCHANGE, "#")
    connection.close()


def test_an_emails_sent_outcome_is_not_held_back_by_the_slow_send_of_the_next(make_service, start_smtp, props):
    url = props["omero.mail.broker.url"]
    server = start_smtp(SlowSecondMail(pause=3.0))
    first, _second = publish_mails(url, [outbox_mail("a@example.org"), outbox_mail("b@example.org")])
    bind_audit(url)
    make_service(stages=("delivery",), omero__mail__port=str(server.port),
                 omero__mail__delivery__connections="1")  # one thread: both mails are queued to it
    reported: dict[str, float] = {}

    def first_reported() -> bool:
        for _headers, body in take_all(url, "audit"):
            for email in outcomes.emails_of(json.loads(body)):
                reported.setdefault(email["message_id"], time.monotonic())
        return first.message_id in reported

    wait_for(first_reported, timeout=15, interval=0.02, what="the first email's sent outcome")
    wait_for(lambda: len(server.handler.accepted_at) == 2, timeout=15, what="both mails accepted")
    first_accepted, second_accepted = server.handler.accepted_at
    assert reported[first.message_id] - first_accepted < 1.0
    assert reported[first.message_id] < second_accepted - 2.0
