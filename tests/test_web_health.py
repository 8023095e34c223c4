"""The Health page shows, and keeps showing by itself, what the queues and the stages are doing."""

from __future__ import annotations

import json
import math
import time
import uuid
from datetime import datetime, timezone

from consumer.stages.activity import Report
from events import topology as topo
from events.broker import Message, Publisher

from .conftest import wait_for
from .webapp import Client, log_in, screenshot

#: Reports four times a second, so a test sees them at once (the page reads them every 5 s at most).
FAST = {"omero__mail__activity__interval": "250ms"}
RED_OUTBOX = "wait in omero.mail.outbox and nothing consumes it"


def lines(browser) -> list[tuple[str, str]]:
    """The page's shown red and green lines: (colour, text).

    Read by one script, so the page's own refresh (it swaps the whole section) cannot come between
    finding a line and reading it."""
    return [tuple(line) for line in browser.execute_script(
        "return Array.from(document.querySelectorAll("
        "'#omero-mail-health .red-line, #omero-mail-health .green-line'))"
        ".filter(e => e.getClientRects().length > 0)"
        ".map(e => [e.classList.contains('red-line') ? 'red' : 'green', e.innerText.trim()]);")]


def charted(browser) -> tuple[int, int]:
    """Mails sent and failed, summed over the chart's bars (one script, as for :func:`lines`)."""
    sent, failed = browser.execute_script(
        "var bars = Array.from(document.querySelectorAll('#omero-mail-chart g.minute'));"
        "var sum = a => bars.reduce((n, bar) => n + parseInt(bar.getAttribute(a), 10), 0);"
        "return [sum('data-sent'), sum('data-failed')];")
    return sent, failed


def attributes(browser, selector: str, name: str) -> list[str | None]:
    """One attribute of each element ``selector`` finds, read by one script."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.getAttribute(arguments[1]));",
        selector, name)


def text(browser, selector: str) -> str | None:
    """The shown text of the first element ``selector`` finds, read by one script."""
    return browser.execute_script(
        "var e = document.querySelector(arguments[0]); return e ? e.innerText : null;", selector)


def open_health(browser, app) -> None:
    log_in(browser, app)
    browser.get(app.page("health/"))


def test_the_page_turns_red_when_the_delivery_stage_is_stopped_and_green_when_it_is_back(
        web_app, browser, make_service, publish, smtp_server):
    make_service(stages=("rules",), **FAST)
    delivery = make_service(stages=("delivery",), **FAST)
    app = web_app(**FAST)
    open_health(browser, app)
    wait_for(lambda: [colour for colour, _ in lines(browser)] == ["green"], 30, interval=0.5, what="a green page")
    delivery.stop()
    publish("server.startup", {"server": "omero-1"})
    wait_for(lambda: any(colour == "red" and RED_OUTBOX in text for colour, text in lines(browser)), 30,
             interval=0.5, what="the red line of the outbox, refreshed by the page itself")
    assert attributes(browser, f'tr[data-queue="{topo.OUTBOX_QUEUE}"]', "class") == ["bad"]
    make_service(stages=("delivery",), **FAST)
    smtp_server.wait_for_messages(2)
    wait_for(lambda: [colour for colour, _ in lines(browser)] == ["green"], 30, interval=0.5,
             what="the page green again")


def test_the_chart_shows_the_mails_sent_in_the_minute(web_app, browser, make_service, publish, smtp_server):
    make_service(**FAST)
    publish("server.startup", {"server": "omero-1"})
    smtp_server.wait_for_messages(2)
    app = web_app(**FAST)
    open_health(browser, app)
    wait_for(lambda: charted(browser) == (2, 0), 30, interval=0.5, what="2 mails sent on the chart")
    [height] = attributes(browser, "#omero-mail-chart g.minute rect.sent", "height")
    assert float(height) > 0


def earlier_reports(minutes: int) -> list[Report]:
    """A process's reports of the last ``minutes`` minutes, as it would have sent them: busier at
    times, a failed mail now and then, and a last report saying it stopped."""
    now = math.floor(time.time() / 60) * 60
    reports = []
    for index in range(minutes):
        at = now - 60 * (minutes - 1 - index)
        sent = max(0, round(12 + 10 * math.sin(index / 11))) + index % 4
        reports.append(Report("earlier", "omero-1", 4242, ("rules", "delivery"), at - 60, at, 60.0, True,
                              (topo.EVENTS_QUEUE,), sent, int(index % 29 == 3), stopping=index == minutes - 1))
    return reports


def test_the_chart_draws_the_hours_of_reports_the_activity_queue_keeps(web_app, browser, make_service, props):
    make_service(**FAST)
    reports = earlier_reports(150)
    with Publisher(props["omero.mail.broker.url"]) as publisher:
        publisher.publish_many([Message(topo.MAIL_EXCHANGE, topo.ACTIVITY_KEY, r.to_json(), str(uuid.uuid4()))
                                for r in reports])
    open_health(browser, web_app(**FAST))
    expected = (sum(r.sent for r in reports), sum(r.failed for r in reports))
    wait_for(lambda: charted(browser) == expected, 30, interval=0.5, what="the earlier reports on the chart")
    assert "Active:" in text(browser, "#omero-mail-active-rules")
    screenshot(browser, "health")


def test_the_bridges_lag_is_shown_from_the_rules_stages_reports(web_app, make_service, props):
    make_service(**FAST)
    body = json.dumps({"id": str(uuid.uuid4()), "type": "server.startup", "source": "omero-bridge@omero",
                       "occurred_at": datetime.now(timezone.utc).isoformat(), "data": {"server": "omero-1"}})
    with Publisher(props["omero.mail.broker.url"]) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, "server.startup", body.encode(), "bridge-1"))
    client = Client(web_app(**FAST))
    client.login()
    wait_for(lambda: json.loads(client.get("health.json")[2])["bridge"] is not None, 30, interval=0.5,
             what="the bridge's lag in health.json")
    status, _, page = client.get("health/")
    assert status == 200 and "The newest event from the bridge occurred at" in page


def test_health_json_counts_each_queue_and_its_consumers(web_app, make_service):
    make_service(**FAST)
    client = Client(web_app(**FAST))
    client.login()
    status, headers, body = client.get("health.json")
    queues = {q["name"]: q for q in json.loads(body)["queues"]}
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert queues[topo.OUTBOX_QUEUE]["consumers"] == 1 and queues[topo.EVENTS_QUEUE]["consumers"] == 1
    assert {topo.FAILED_QUEUE, topo.INVALID_QUEUE, topo.ACTIVITY_QUEUE} <= set(queues)


def test_the_page_refreshes_by_a_script_of_its_own_file_only(web_app):
    client = Client(web_app())
    client.login()
    _, headers, page = client.get("health/")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert '<script src="/static/omero_mail/health.js"' in page and "<script>" not in page
