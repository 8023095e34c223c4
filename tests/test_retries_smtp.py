"""Transient SMTP failures are retried (in-process, then by retry tiers); permanent ones parked.

Real broker, real aiosmtpd servers that misbehave on cue (tests/faults.py).
"""

from __future__ import annotations

import time
from collections import Counter

from consumer import outcomes
from consumer.admin.sink import MaildirHandler
from events import topology as topo
from events.broker import queue_depths

from .conftest import wait_for
from .faults import CrashingTransport, FlakyHandler, RefusingHandler, counts, outbox_mail, parked, publish_mails
from .services import free_port


def delivered_to(server) -> Counter:
    return Counter(rcpt for received in server.received for rcpt in received.rcpt_tos)


def test_mail_queued_while_the_smtp_server_is_down_all_arrive_once_it_is_up(make_service, publish, start_smtp):
    port = free_port()
    make_service(omero__mail__port=str(port), omero__mail__retry__delays="1s,1s,1s,1s,1s,1s")
    events = [publish("server.startup") for _ in range(10)]
    time.sleep(3)  # the outage: every attempt meanwhile is refused
    server = start_smtp(MaildirHandler(), port=port)
    server.wait_for_messages(20, timeout=30)
    result = counts(server, 20)
    assert len(events) == 10 and result == {"sent": 20, "duplicated": 0, "lost": 0}


def test_a_451_reply_is_retried_in_process_and_the_mail_delivered_once(make_service, start_smtp, props):
    server = start_smtp(FlakyHandler(failures=2))
    make_service(omero__mail__port=str(server.port))
    [mail] = publish_mails(props["omero.mail.broker.url"], [outbox_mail("root@example.org")])
    [message] = server.wait_for_messages(1)
    assert message["Message-ID"] == mail.message_id
    assert server.handler.refusals == 2


def test_a_451_reply_beyond_the_in_process_retries_goes_through_a_retry_tier(make_service, start_smtp, props):
    server = start_smtp(FlakyHandler(failures=6))
    make_service(omero__mail__port=str(server.port))
    url = props["omero.mail.broker.url"]
    publish_mails(url, [outbox_mail("root@example.org")])
    server.wait_for_messages(1, timeout=30)
    wait_for(lambda: queue_depths(url, [topo.OUTBOX_QUEUE])[topo.OUTBOX_QUEUE] == 0, what="the outbox drained")
    assert len(server.received) == 1 and server.handler.refusals == 6


def test_a_recipient_refused_with_550_is_parked_alone_and_the_others_get_the_mail_once(make_service, start_smtp, props):
    server = start_smtp(RefusingHandler({"bob@example.org": "550 5.1.1 No such user"}))
    make_service(omero__mail__port=str(server.port))
    url = props["omero.mail.broker.url"]
    [mail] = publish_mails(url, [outbox_mail("root@example.org", cc=("alice@example.org", "bob@example.org"))])
    server.wait_for_messages(1)
    wait_for(lambda: parked(url), what="the refused recipient parked")
    [copy] = parked(url)
    assert delivered_to(server) == {"root@example.org": 1, "alice@example.org": 1}
    assert copy.message_id == mail.message_id
    assert list(copy.headers[outcomes.RECIPIENTS]) == ["bob@example.org"]
    assert "550" in copy.headers[outcomes.REASON] and copy.headers[outcomes.ATTEMPTS] == 1


def test_a_recipient_refused_with_450_is_retried_alone_and_nobody_gets_the_mail_twice(make_service, start_smtp, props):
    server = start_smtp(RefusingHandler({"alice@example.org": "450 4.2.1 Mailbox busy"}, times=5))
    make_service(omero__mail__port=str(server.port))
    url = props["omero.mail.broker.url"]
    [mail] = publish_mails(url, [outbox_mail("root@example.org", cc=("alice@example.org", "carol@example.org"))])
    wait_for(lambda: delivered_to(server)["alice@example.org"] == 1, timeout=30, what="alice's retry delivered")
    wait_for(lambda: queue_depths(url, [topo.OUTBOX_QUEUE])[topo.OUTBOX_QUEUE] == 0, what="the outbox drained")
    assert delivered_to(server) == {"root@example.org": 1, "alice@example.org": 1, "carol@example.org": 1}
    assert {m["Message-ID"] for m in server.messages} == {mail.message_id}
    assert parked(url) == []


def test_a_mail_still_failing_after_the_last_tier_is_parked_with_error_attempts_and_times(make_service, start_smtp,
                                                                                           props):
    server = start_smtp(FlakyHandler(failures=1_000))
    make_service(omero__mail__port=str(server.port), omero__mail__retry__delays="1s")
    url = props["omero.mail.broker.url"]
    [mail] = publish_mails(url, [outbox_mail("root@example.org")])
    wait_for(lambda: parked(url), timeout=30, what="the mail parked")
    [copy] = parked(url)
    headers = copy.headers
    assert copy.message_id == mail.message_id
    assert headers[outcomes.ATTEMPTS] == 2
    assert "451" in headers[outcomes.REASON] and "after 2 attempt(s)" in headers[outcomes.REASON]
    assert headers[outcomes.FIRST_ATTEMPT] <= headers[outcomes.LAST_ATTEMPT] <= headers[outcomes.PARKED_AT]
    assert "x-death" not in headers and server.received == []


def test_a_mail_refused_with_554_is_parked_at_once(make_service, start_smtp, props):
    server = start_smtp(RefusingHandler({"root@example.org": "554 5.7.1 Rejected"}))
    make_service(omero__mail__port=str(server.port))
    url = props["omero.mail.broker.url"]
    publish_mails(url, [outbox_mail("root@example.org")])
    wait_for(lambda: parked(url), what="the mail parked")
    assert parked(url)[0].headers[outcomes.ATTEMPTS] == 1


def test_a_mail_that_keeps_crashing_the_worker_is_parked_after_the_delivery_limit(make_service, props):
    make_service(omero__mail__bean=f"{CrashingTransport.__module__}:CrashingTransport",
                 **{"omero.mail.queue.delivery-limit": "3"})
    url = props["omero.mail.broker.url"]
    publish_mails(url, [outbox_mail("root@example.org")])
    wait_for(lambda: parked(url), what="the poison message parked")
    assert "crashed 3 times" in parked(url)[0].headers[outcomes.REASON]
    assert queue_depths(url, [topo.OUTBOX_QUEUE])[topo.OUTBOX_QUEUE] == 0
