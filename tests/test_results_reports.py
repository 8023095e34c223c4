"""What reaches omero.mail.results: every outcome a queue takes; failures and a broadcast's always.

Real broker, real SMTP server, and a queue bound to every outcome (``#``), as an audit
reader would bind one (consumer/stages/listeners.py).
"""

from __future__ import annotations

import json
import time

import pika
import pytest

from consumer import outcomes
from events import topology as topo

from .conftest import take_all, wait_for, write_directory
from .faults import RefusingHandler


class Audit:
    """A queue bound to every outcome (or those ``pattern`` matches), as an audit reader binds one;
    each email's outcome read off it."""

    def __init__(self, url: str, pattern: str = "#"):
        self.url = url
        self.reports: list[dict] = []
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        channel.queue_declare("audit", durable=True)
        channel.queue_bind("audit", topo.RESULTS_EXCHANGE, pattern)
        connection.close()

    def __call__(self) -> list[tuple[str, str]]:
        """(event id, outcome) of every email's outcome so far."""
        for _headers, body in take_all(self.url, "audit"):
            self.reports += outcomes.emails_of(json.loads(body))  # a sent may report several emails
        return [(report["event_id"], report["outcome"]) for report in self.reports]


@pytest.fixture
def audit(props, publish) -> Audit:
    return Audit(props["omero.mail.broker.url"])


def broadcast(publish):
    return publish("admin.broadcast", {"subject": "Maintenance", "body": "Tonight.", "everyone": True,
                                       "requested_by": "root"})


#: The users a broadcast to everyone reaches in the test directory: root, alice and carol.
EVERYONE = 3


def test_a_broadcast_reports_its_plan_and_each_email_sent(make_service, publish, smtp_server, audit):
    make_service()
    event = broadcast(publish)
    wait_for(lambda: audit().count((event.id, "sent")) == EVERYONE, what="each email's sent")
    assert audit().count((event.id, "planned")) == 1


def test_a_queue_bound_to_every_outcome_gets_an_event_senders_planned_and_each_sent(make_service, publish,
                                                                                     smtp_server, audit):
    make_service()
    startup = publish("server.startup", {"server": "omero-1"})
    wait_for(lambda: audit().count((startup.id, "sent")) == 2, what="each email's sent")
    assert audit().count((startup.id, "planned")) == 1


def test_a_queue_bound_while_nobody_listened_gets_the_outcomes_within_a_probe(make_service, publish, smtp_server,
                                                                              props):
    make_service()
    publish("server.startup", {"server": "omero-1"})  # its outcomes are returned: nobody listens
    smtp_server.wait_for_messages(2)
    audit = Audit(props["omero.mail.broker.url"])
    deadline = time.monotonic() + 10
    while not any(outcome == "planned" for _event, outcome in audit()) and time.monotonic() < deadline:
        publish("server.startup", {"server": "omero-1"})
        time.sleep(0.25)
    assert any(outcome == "planned" for _event, outcome in audit()), "no probe reached the new queue"
    time.sleep(0.5)  # the probes in flight are settled: the stages publish every outcome again
    startup = publish("server.startup", {"server": "omero-1"})
    wait_for(lambda: audit().count((startup.id, "sent")) == 2, what="each email's sent")
    assert audit().count((startup.id, "planned")) == 1


def test_a_failed_email_is_published_whoever_listens(make_service, publish, start_smtp, props):
    server = start_smtp(RefusingHandler({"root@example.org": "554 5.7.1 Rejected"}))
    failures = Audit(props["omero.mail.broker.url"], "*.failed")  # nobody takes planned or sent
    make_service(omero__mail__port=str(server.port))
    startup = publish("server.startup", {"server": "omero-1"})
    wait_for(lambda: (startup.id, "failed") in failures(), what="the refused email reported failed")
    assert [outcome for event_id, outcome in failures() if event_id == startup.id] == ["failed"]


def test_an_outbox_message_from_before_the_report_header_is_taken_as_followed():
    assert outcomes.followed({}) is True
    assert outcomes.followed({outcomes.REPORT: outcomes.REPORT_ALWAYS}) is True
    assert outcomes.followed({outcomes.REPORT: outcomes.REPORT_IF_HEARD}) is False


def test_each_email_of_a_large_broadcast_is_reported_sent_once(make_service, publish, smtp_server, audit, tmp_path):
    users = [{"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]}]
    users += [{"id": n, "omeName": f"user{n}", "email": f"user{n}@example.org", "groups": ["user"]}
              for n in range(1, 300)]
    make_service(omero__mail__directory__file=str(write_directory(tmp_path / "many.json", users)))
    event = broadcast(publish)
    received = smtp_server.wait_for_messages(300)
    wait_for(lambda: audit().count((event.id, "sent")) >= 300, what="every email reported sent")
    sent = [report["message_id"] for report in audit.reports if report["outcome"] == "sent"]
    assert sorted(sent) == sorted(m["Message-ID"] for m in received)
    assert len(set(sent)) == 300
