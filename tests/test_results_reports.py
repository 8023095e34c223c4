"""What reaches omero.mail.results: failures always; planned and sent for broadcasts, or for all.

Real broker, real SMTP server, and a queue bound to every outcome (``#``), as an audit
reader would bind one.
"""

from __future__ import annotations

import json

import pika
import pytest

from consumer import outcomes
from events import topology as topo

from .conftest import take_all, wait_for, write_directory
from .faults import RefusingHandler


class Audit:
    """A queue bound to every outcome, as an audit reader binds one; each email's outcome read off it."""

    def __init__(self, url: str):
        self.url = url
        self.reports: list[dict] = []
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        channel.queue_declare("audit", durable=True)
        channel.queue_bind("audit", topo.RESULTS_EXCHANGE, "#")
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


def test_an_event_senders_emails_are_not_reported_sent_by_default(make_service, publish, smtp_server, audit):
    make_service()
    startup = publish("server.startup", {"server": "omero-1"})
    smtp_server.wait_for_messages(2)
    # A broadcast published after it, and reported, marks the point where its reports would be.
    marker = broadcast(publish)
    wait_for(lambda: audit().count((marker.id, "sent")) == EVERYONE, what="the marker's emails sent")
    assert [outcome for event_id, outcome in audit() if event_id == startup.id] == []


def test_every_event_reports_planned_and_sent_with_results_all(make_service, publish, smtp_server, audit):
    make_service(**{"omero.mail.results.all": "true"})
    startup = publish("server.startup", {"server": "omero-1"})
    wait_for(lambda: audit().count((startup.id, "sent")) == 2, what="each email's sent")
    assert audit().count((startup.id, "planned")) == 1


def test_a_failed_email_is_reported_whatever_the_event(make_service, publish, start_smtp, audit):
    server = start_smtp(RefusingHandler({"root@example.org": "554 5.7.1 Rejected"}))
    make_service(omero__mail__port=str(server.port))
    startup = publish("server.startup", {"server": "omero-1"})
    wait_for(lambda: (startup.id, "failed") in audit(), what="the refused email reported failed")
    assert [outcome for event_id, outcome in audit() if event_id == startup.id] == ["failed"]


def test_an_outbox_message_from_before_the_report_header_is_reported_sent():
    assert outcomes.reports_sent({}) is True
    assert outcomes.reports_sent({outcomes.REPORT: outcomes.REPORT_ALL}) is True
    assert outcomes.reports_sent({outcomes.REPORT: outcomes.REPORT_FAILURES}) is False


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
