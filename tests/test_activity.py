"""Each consumer process reports its activity to omero.mail.activity, and nothing it does waits for it."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timezone

from consumer.admin.health import read_reports
from consumer.stages.activity import Activity, Report
from events import topology as topo
from events.broker import Message, Publisher, declare_topology, queue_depths
from events.schemas import new_event
from senders.plan import Plan

from .conftest import wait_for

FAST = {"omero__mail__activity__interval": "250ms"}


def counted(interval: float = 60.0, clock=lambda: 1000.0, receiving=()) -> Activity:
    return Activity("amqp://guest:guest@localhost/%2F", ("rules", "delivery"), interval,
                    lambda: (True, receiving), clock=clock)


# -- the report -----------------------------------------------------------------------------------
def test_a_report_counts_sent_failed_and_retrying_mails_and_the_events_taken_and_parked():
    activity = counted()
    for outcome in ("sent", "sent", "failed", "retrying", "skipped"):
        activity.on_outcome(outcome, None, "")
    activity.on_event("login.failed", Plan())
    activity.on_event("invalid", None)
    report = activity.report()
    assert (report.sent, report.failed, report.retrying, report.events, report.invalid) == (2, 1, 1, 1, 1)


def test_each_report_starts_counting_afresh_where_the_last_one_ended():
    times = iter([1060.0, 1120.0])
    activity = counted(clock=lambda: next(times, 1120.0))
    activity.on_outcome("sent", None, "")
    first = activity.report()
    second = activity.report()
    assert (first.sent, second.sent) == (1, 0)
    assert second.since == first.at


def test_the_bridges_events_tell_how_late_they_reach_the_rules_stage():
    activity = counted(clock=lambda: 1_800_000_010.0)
    occurred = datetime.fromtimestamp(1_800_000_000.0, timezone.utc)
    activity.on_taken(replace(new_event("login.failed", {"user": "root"}, source="omero-bridge@omero"),
                              occurred_at=occurred))
    activity.on_taken(new_event("login.failed", {"user": "root"}, source="tests"))
    bridge = activity.report().bridge
    assert bridge is not None and (bridge.events, bridge.last_lag) == (1, 10.0)


def test_a_report_says_which_of_the_processes_queues_gave_it_a_message():
    assert counted(receiving={topo.EVENTS_QUEUE}).report().receiving == (topo.EVENTS_QUEUE,)


def test_reports_fall_due_on_whole_multiples_of_the_interval():
    assert counted(interval=60.0, clock=lambda: 1_000_030.5).next_due() == 1_000_080.0


def test_a_report_reads_back_as_it_was_written():
    report = counted().report(stopping=True)
    assert Report.from_json(report.to_json()) == report


def test_a_body_that_is_not_a_report_is_skipped():
    assert Report.from_json(b'{"process": "x"}') is None
    assert Report.from_json(b"not json") is None
    assert Report.from_json(b'{"process":"p","host":"h","pid":1,"stages":["rules"],"since":"x","at":1,'
                            b'"interval":60,"connected":true}') is None


def test_a_report_from_a_newer_version_with_more_fields_is_still_read():
    body = counted().report().to_json()[:-1] + b',"queue_lengths":{"x":1}}'
    assert Report.from_json(body) is not None


# -- from a running consumer -----------------------------------------------------------------------
def test_a_running_consumer_reports_what_it_sent_to_the_activity_queue(make_service, publish, smtp_server, props):
    make_service(**FAST)
    publish("server.startup", {"server": "omero-1"})
    smtp_server.wait_for_messages(2)
    url = props["omero.mail.broker.url"]
    wait_for(lambda: sum(r.sent for r in read_reports(url)) == 2, 30, interval=0.5, what="the reports of 2 mails")
    [process] = {r.process for r in read_reports(url)}
    assert process


def test_a_stopped_consumer_says_so_in_its_last_report(make_service, props):
    service = make_service(**FAST)
    service.stop()
    reports = read_reports(props["omero.mail.broker.url"])
    assert max(reports, key=lambda r: r.at).stopping


def test_the_rules_stage_that_receives_events_reports_itself_receiving(make_service, publish, smtp_server, props):
    make_service(stages=("rules",), **FAST)
    publish("server.startup", {"server": "omero-1"})
    url = props["omero.mail.broker.url"]
    wait_for(lambda: any(topo.EVENTS_QUEUE in r.receiving for r in read_reports(url)), 30, interval=0.5,
             what="a report receiving events")


def test_no_reports_at_all_with_the_interval_at_zero(make_service, props):
    service = make_service(omero__mail__activity__interval="0")
    assert service.service.activity is None


def test_the_activity_queue_keeps_its_last_reports_only(amqp_url):
    declare_topology(amqp_url, topo.build())
    with Publisher(amqp_url) as publisher:
        publisher.publish_many([Message(topo.MAIL_EXCHANGE, topo.ACTIVITY_KEY, b"{}", str(n))
                                for n in range(topo.ACTIVITY_MAX_REPORTS + 50)])
    assert queue_depths(amqp_url, [topo.ACTIVITY_QUEUE])[topo.ACTIVITY_QUEUE] == topo.ACTIVITY_MAX_REPORTS


def test_a_consumer_whose_reports_cannot_be_published_keeps_delivering_and_says_so_once(
        make_service, publish, smtp_server, props, caplog):
    from events.broker.admin import _connect

    caplog.set_level(logging.WARNING, logger="consumer.stages.activity")
    make_service(**FAST)
    connection = _connect(props["omero.mail.broker.url"], "test")
    connection.channel().queue_delete(topo.ACTIVITY_QUEUE)
    connection.close()
    wait_for(lambda: "activity report not published" in caplog.text, 30, what="the warning")
    for server in ("omero-1", "omero-2", "omero-3"):
        publish("server.startup", {"server": server})
    smtp_server.wait_for_messages(6)
    assert caplog.text.count("activity report not published") == 1
