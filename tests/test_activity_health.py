"""The Health page's rules, without a broker: minutes, verdicts, the active rules stage, the chart."""

from __future__ import annotations

from consumer.admin import health
from consumer.admin.health import Minute
from consumer.admin.web.chart import BOTTOM, HEIGHT, TOP, chart, round_up
from consumer.stages.activity import BridgeSeen, Report
from events import topology as topo

NOW = 1_800_000_000.0  # a whole minute: 2027-01-15 08:00 UTC


def report(process="p1", *, at=NOW - 5, interval=60.0, stages=("rules", "delivery"), sent=0, failed=0,
           receiving=(), stopping=False, bridge=None) -> Report:
    return Report(process, "host-a", 100, stages, at - interval, at, interval, True, receiving, sent, failed,
                  bridge=bridge, stopping=stopping)


# -- the queues ---------------------------------------------------------------------------------
def test_messages_in_the_outbox_with_no_consumer_are_a_red_line_that_names_the_stage_to_start():
    verdict = health.queue_verdict(topo.OUTBOX_QUEUE, (12, 0))
    assert not verdict.healthy
    assert verdict.reason == ("12 message(s) wait in omero.mail.outbox and nothing consumes it: "
                              "start the delivery stage (omero-mail consume --stage delivery)")


def test_events_waiting_with_no_rules_stage_are_a_red_line():
    assert not health.queue_verdict(topo.EVENTS_QUEUE, (3, 0)).healthy


def test_an_empty_queue_with_no_consumer_is_not_red():
    assert health.queue_verdict(topo.OUTBOX_QUEUE, (0, 0)).healthy


def test_a_consumed_queue_with_messages_is_not_red():
    assert health.queue_verdict(topo.OUTBOX_QUEUE, (500, 2)).healthy


def test_parking_lots_retry_tiers_and_kept_queues_have_no_consumer_by_design():
    for name in (topo.FAILED_QUEUE, topo.retry_queue(30_000), topo.ACTIVITY_QUEUE, topo.BROADCASTS_QUEUE):
        assert health.queue_verdict(name, (7, 0)).healthy


def test_queues_are_listed_work_first_then_retry_tiers_parking_lots_and_kept_ones():
    names = health.queue_names(topo.build((30_000, 300_000)))
    kinds = [q.kind for q in health.queues_health(names, {name: (0, 0) for name in names})]
    assert kinds == ["work", "work", "retry", "retry", "parking", "parking", "kept", "kept"]


def test_the_state_stream_is_not_a_queue_the_page_counts():
    assert topo.STATE_STREAM not in health.queue_names(topo.build())


def test_a_queue_not_made_yet_has_no_counts_and_no_red_line():
    [queue] = health.queues_health([topo.OUTBOX_QUEUE], {topo.OUTBOX_QUEUE: None})
    assert queue.messages is None and queue.verdict.healthy


# -- the processes -------------------------------------------------------------------------------
def test_a_process_is_known_by_its_newest_report():
    [seen] = health.processes([report(at=NOW - 65, sent=1), report(at=NOW - 5, sent=2)], NOW)
    assert seen.report.sent == 2 and seen.state == "reporting"


def test_a_process_silent_for_over_two_minutes_is_silent():
    [seen] = health.processes([report(at=NOW - 121)], NOW)
    assert seen.state == "silent"


def test_a_process_reporting_every_five_minutes_is_silent_only_after_two_of_them():
    [seen] = health.processes([report(at=NOW - 400, interval=300)], NOW)
    assert seen.state == "reporting"


def test_a_process_that_said_it_stopped_is_stopped_not_silent():
    [seen] = health.processes([report(at=NOW - 3600, stopping=True)], NOW)
    assert seen.state == "stopped"


def test_a_stage_whose_every_process_fell_silent_is_a_red_line():
    [line] = health.stage_verdicts(health.processes([report(at=NOW - 300, stages=("delivery",))], NOW))
    assert not line.healthy
    assert line.reason.startswith("No delivery stage has reported for 5 minutes: the last one (host-a, pid 100)")


def test_a_silent_process_whose_stage_another_process_runs_is_no_red_line():
    seen = health.processes([report("old", at=NOW - 3000), report("new", at=NOW - 10)], NOW)
    assert health.stage_verdicts(seen) == ()


def test_a_stage_that_stopped_cleanly_is_no_red_line():
    assert health.stage_verdicts(health.processes([report(at=NOW - 300, stopping=True)], NOW)) == ()


def test_the_rules_stage_receiving_events_is_the_active_one_and_the_others_stand_by():
    seen = health.processes([report("a", receiving=(topo.EVENTS_QUEUE,)), report("b"), report("c")], NOW)
    assert health.active_rules(seen) == "Active: host-a (pid 100); 2 standing by."


def test_the_only_rules_stage_is_active_even_before_its_first_event():
    assert "the only one" in health.active_rules(health.processes([report()], NOW))


def test_no_rules_stage_reporting_is_said():
    seen = health.processes([report(stages=("delivery",))], NOW)
    assert health.active_rules(seen) == "No rules stage reports."


# -- the minutes and the bridge ---------------------------------------------------------------------
def test_reports_are_summed_per_minute_across_processes():
    minutes = health.per_minute([report("a", at=NOW, sent=3, failed=1), report("b", at=NOW, sent=4)],
                                NOW, 3)
    assert [(m.start, m.sent, m.failed) for m in minutes] == [(NOW - 120, 0, 0), (NOW - 60, 7, 1), (NOW, 0, 0)]


def test_a_report_counts_in_the_minute_that_holds_its_middle():
    short = Report("p", "h", 1, ("delivery",), NOW - 62, NOW - 58, 4, True, sent=5)
    assert [m.sent for m in health.per_minute([short], NOW, 2)] == [5, 0]


def test_reports_older_than_the_chart_are_left_out():
    assert sum(m.sent for m in health.per_minute([report(at=NOW - 7200, sent=9)], NOW, 60)) == 0


def test_reports_read_before_stay_when_a_read_finds_fewer_and_each_is_kept_once():
    first, second, old = report(at=NOW - 65), report(at=NOW - 5), report(at=NOW - 7 * 3600)
    assert health.merged([old, first], [first, second], NOW - 6 * 3600) == [first, second]


def test_the_bridge_lag_is_the_newest_bridge_event_and_the_worst_wait():
    old = BridgeSeen(3, NOW - 600, 0.5, 9.0)
    new = BridgeSeen(1, NOW - 30, 0.2, 0.2)
    lag = health.bridge_lag([report(bridge=old), report(bridge=new), report()])
    assert lag is not None and lag.newest == new and lag.max_lag == 9.0


def test_the_page_is_green_in_one_line_when_nothing_is_wrong():
    names = health.queue_names(topo.build())
    picture = health.health(NOW, names, {name: (0, 1) for name in names}, [report()])
    assert picture.healthy and len(picture.lines) == 1


def test_rabbitmq_out_of_reach_makes_the_page_unhealthy_with_the_reason():
    picture = health.health(NOW, ["q"], None, [], errors=["RabbitMQ could not be asked"])
    assert not picture.healthy and picture.queues == () and picture.errors == ("RabbitMQ could not be asked",)


# -- the chart ---------------------------------------------------------------------------------------
def test_the_charts_top_is_a_round_number_at_least_the_busiest_minute():
    assert [round_up(n) for n in (0, 1, 3, 7, 10, 11, 120, 501)] == [1, 1, 5, 10, 10, 20, 200, 1000]


def test_a_minute_with_mail_is_one_bar_sent_from_the_axis_and_failed_stacked_on_it():
    drawn = chart([Minute(NOW - 60, 0, 0), Minute(NOW, 6, 4)], label=lambda t: "08:00")
    [bar] = drawn.bars
    plot = HEIGHT - TOP - BOTTOM
    assert drawn.top_value == 10
    assert bar.sent_height == plot * 0.6 and bar.sent_y == drawn.baseline - plot * 0.6
    assert bar.failed_height == plot * 0.4 and bar.failed_y == TOP
    assert (bar.sent, bar.failed, bar.label) == (6, 4, "08:00")


def test_bars_go_left_to_right_oldest_first_within_the_plot():
    drawn = chart([Minute(NOW + 60 * i, 1, 0) for i in range(180)], label=str)
    xs = [bar.x for bar in drawn.bars]
    assert xs == sorted(xs) and xs[0] == drawn.left and xs[-1] + drawn.bars[-1].width <= drawn.right


def test_the_time_axis_has_a_few_labels_on_round_minutes():
    drawn = chart([Minute(NOW + 60 * i) for i in range(360)], label=str)
    assert 1 < len(drawn.x_ticks) <= 8
    assert all(float(tick.label) % 3600 == 0 for tick in drawn.x_ticks)


def test_the_chart_counts_what_it_shows():
    drawn = chart([Minute(NOW, 2, 1), Minute(NOW + 60, 3, 0)], label=str)
    assert (drawn.sent, drawn.failed) == (5, 1)
