"""The bridge loses nothing: kill -9 mid-stream, two bridges on one OMERO, a log that rotates.

The bridge runs as a process of its own against OMERO's tables and real RabbitMQ; what it
published is read off ``omero.mail.events``.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from events.config import Properties

from .bridge_helpers import published, start_bridge, write_properties
from .conftest import wait_for
from .faults import Proxy
from .test_bridge_e2e import FAILED_LOGIN
from .test_bridge_follow import roll

ROWS = 5000


def collect(props, into: list, until, timeout: float, what: str) -> None:
    def done():
        into.extend(published(props))
        return until(into)

    wait_for(done, timeout, interval=0.2, what=what)


def write_images(db, count: int, per_transaction: int = 50) -> None:
    with db.connect() as conn:
        for start in range(0, count, per_transaction):
            with db.transaction(conn=conn) as tx:
                for n in range(start, min(count, start + per_transaction)):
                    tx.new_image(f"image-{n}.tif")


def test_kill_9_during_5000_rows_loses_none_and_repeats_only_with_the_same_event_id(omero_db, bridge_props, tmp_path):
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    state = tmp_path / "bridge-state.json"
    first = start_bridge(config, log=tmp_path / "bridge.log")
    wait_for(state.exists, 30, what="the bridge to start")
    writer = threading.Thread(target=write_images, args=(omero_db, ROWS))
    writer.start()
    events: list[dict] = []
    collect(bridge_props, events, lambda e: len(e) >= 500, 60, what="the first events")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    second = start_bridge(config, log=tmp_path / "bridge.log")
    writer.join(120)

    def every_row_arrived(found):
        return len({e["data"]["eventlog_id"] for e in found}) >= ROWS

    collect(bridge_props, events, every_row_arrived, 120, what=f"events for all {ROWS} rows")
    second.terminate()
    assert second.wait(30) == 0
    events.extend(published(bridge_props))
    ids_by_row: dict[int, set[str]] = {}
    for event in events:
        ids_by_row.setdefault(event["data"]["eventlog_id"], set()).add(event["id"])
    assert len(ids_by_row) == ROWS
    assert all(len(ids) == 1 for ids in ids_by_row.values()), "a row published twice under two event ids"
    print(f"{len(events)} events for {ROWS} rows: {len(events) - ROWS} published again after kill -9")


def test_of_two_bridges_one_publishes_and_the_other_takes_over_when_it_dies(omero_db, bridge_props, tmp_path):
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    logs = tmp_path / "a.log", tmp_path / "b.log"
    active = start_bridge(config, log=logs[0])
    wait_for(lambda: "active:" in logs[0].read_text(), 30, what="the first bridge to lead")
    standby = start_bridge(config, log=logs[1])
    wait_for(lambda: "standing by" in logs[1].read_text(), 30, what="the second bridge to stand by")
    write_images(omero_db, 20, per_transaction=5)
    events: list[dict] = []
    collect(bridge_props, events, lambda e: len(e) >= 20, 30, what="20 events")
    time.sleep(1)
    events.extend(published(bridge_props))
    assert len(events) == 20 and "active:" not in logs[1].read_text()

    os.kill(active.pid, signal.SIGKILL)
    active.wait(10)
    killed_at = time.monotonic()
    wait_for(lambda: "active:" in logs[1].read_text(), 30, what="the standby to take over")
    takeover = time.monotonic() - killed_at
    write_images(omero_db, 10, per_transaction=5)
    collect(bridge_props, events, lambda e: len(e) >= 30, 30, what="10 more events from the new active bridge")
    standby.terminate()
    assert standby.wait(30) == 0
    assert takeover < 10
    print(f"standby took over {takeover:.1f}s after kill -9 of the active bridge")


def test_failed_logins_across_appends_rotation_truncation_and_a_restart_are_each_published_once(
        bridge_props, tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    bridge = start_bridge(config, log=tmp_path / "bridge.log")
    wait_for((tmp_path / "bridge-state.json").exists, 30, what="the bridge to start")
    users = iter(f"user{n}" for n in range(100))
    expected: list[str] = []

    def fail_login():
        user = next(users)
        expected.append(user)
        with open(log, "a") as handle:
            handle.write(FAILED_LOGIN.format(user=user).replace(",114", f",{len(expected):03d}") + "\n")

    events: list[dict] = []

    def arrived(count):
        collect(bridge_props, events, lambda e: len(e) >= count, 30, what=f"{count} failed logins")

    fail_login(), fail_login()
    arrived(2)
    fail_login()
    roll(log)  # logback rolls the file
    fail_login()
    arrived(4)
    with open(log, "w"):  # logrotate's copytruncate
        pass
    fail_login()
    arrived(5)
    bridge.terminate()
    assert bridge.wait(30) == 0
    fail_login()
    roll(log)  # rotated while the bridge was stopped
    fail_login()
    bridge = start_bridge(config, log=tmp_path / "bridge.log")
    arrived(7)
    time.sleep(1)
    bridge.terminate()
    assert bridge.wait(30) == 0
    events.extend(published(bridge_props))
    assert [e["data"]["user"] for e in events] == expected


def test_an_idle_bridge_keeps_its_broker_connection_alive_through_heartbeats(omero_db, bridge_props, tmp_path):
    url = bridge_props["omero.mail.broker.url"]
    bridge_props.update({"omero.mail.broker.url": url + "?heartbeat=1"}, origin="test")
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    log = tmp_path / "bridge.log"
    bridge = start_bridge(config, "--log-level", "DEBUG", log=log)
    wait_for((tmp_path / "bridge-state.json").exists, 30, what="the bridge to start")
    with omero_db.transaction() as tx:
        tx.new_group("before")
    events: list[dict] = []
    collect(bridge_props, events, lambda e: len(e) >= 1, 30, what="the first event")
    time.sleep(5)  # five heartbeat intervals with nothing to publish
    with omero_db.transaction() as tx:
        tx.new_group("after")
    collect(bridge_props, events, lambda e: len(e) >= 2, 30, what="the second event")
    bridge.terminate()
    assert bridge.wait(30) == 0
    assert "publish attempt" not in log.read_text() and "connection to RabbitMQ lost" not in log.read_text()


def through(proxy: Proxy, props: Properties) -> Properties:
    """The same properties with the broker reached through ``proxy``."""
    url = urlsplit(props["omero.mail.broker.url"])
    netloc = url.netloc.rpartition("@")[0] + f"@127.0.0.1:{proxy.port}"
    copy = Properties(dict(props._raw))
    copy.update({"omero.mail.broker.url": urlunsplit(url._replace(netloc=netloc))}, origin="test")
    return copy


def test_a_bridge_that_lost_its_database_session_while_retrying_a_publish_stops_before_another_leads(
        omero_db, bridge_props, tmp_path):
    url = urlsplit(bridge_props["omero.mail.broker.url"])
    proxy = Proxy(url.hostname, url.port or 5672)
    logs = tmp_path / "stale.log", tmp_path / "new.log"
    state = tmp_path / "bridge-state.json"
    stale = start_bridge(write_properties(through(proxy, bridge_props), tmp_path / "stale.properties"), log=logs[0])
    fresh = None
    try:
        wait_for(lambda: "active:" in logs[0].read_text(), 30, what="the first bridge to lead")
        with omero_db.transaction() as tx:
            tx.new_group("while-all-is-well")
        collect(bridge_props, [], lambda e: len(e) == 1, 30, what="the first bridge to publish")
        proxy.holding.set()
        with omero_db.transaction() as tx:
            tx.new_group("while-rabbitmq-is-cut-off")
        wait_for(lambda: proxy.held > 50, 30, what="the first bridge to publish the group")
        proxy.cut()
        wait_for(lambda: "RabbitMQ did not confirm 1 event(s)" in logs[0].read_text(), 30, what="the publish to fail")
        with omero_db.connect() as conn:  # an admin ends the stuck bridge's session
            conn.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                         "where application_name like 'omero-mail bridge@%%'")
        fresh = start_bridge(write_properties(bridge_props, tmp_path / "new.properties"), log=logs[1])
        wait_for(lambda: "active:" in logs[1].read_text(), 60, what="the second bridge to lead")
        with omero_db.transaction() as tx:
            newest = tx.new_group("after-the-takeover")
        events: list[dict] = []
        collect(bridge_props, events, lambda e: newest in [x["data"]["object_id"] for x in e], 30,
                what="the new leader to publish")
        high = json.loads(state.read_text())["eventlog"]["high"]
        proxy.holding.clear()
        proxy.restore()
        wait_for(lambda: "standing by" in logs[0].read_text(), 60, what="the stale bridge to stand by")
        time.sleep(2)
        assert json.loads(state.read_text())["eventlog"]["high"] >= high, "the stale bridge wrote an older place"
        assert "answer again: publishing" not in logs[0].read_text(), "the stale bridge published after losing its lock"
    finally:
        proxy.close()
        for process in (stale, fresh):
            if process is not None:
                process.terminate()
                process.wait(30)
