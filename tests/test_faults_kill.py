"""``kill -9`` of a consumer mid-run, then a new one: no mail lost, duplicates bounded, same Message-ID."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from events import topology as topo
from events.broker import queue_depths

from .conftest import wait_for
from .faults import SlowHandler, counts

OMERO_MAIL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "omero-mail")
PREFETCH = 20
EVENTS = 100  # two mails each (root and alice)


def consumer(config: Path) -> subprocess.Popen:
    return subprocess.Popen([OMERO_MAIL, "--config", str(config), "consume"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_consumer_killed_mid_run_loses_no_mail_and_duplicates_at_most_its_prefetch(props, publish, start_smtp,
                                                                                      tmp_path):
    server = start_smtp(SlowHandler())
    keys = ["omero.mail.config", "omero.mail.broker.url", "omero.mail.host", "omero.mail.from",
            "omero.mail.senders.dir", "omero.mail.directory.file", "omero.mail.retry.delays"]
    config = tmp_path / "consumer.properties"
    config.write_text("\n".join([f"{key}={props[key]}" for key in keys]
                                + [f"omero.mail.port={server.port}", f"omero.mail.consumer.prefetch={PREFETCH}"]))
    first = consumer(config)
    try:
        for _ in range(EVENTS):
            publish("server.startup")
        wait_for(lambda: len(server.handler.received) >= 40, timeout=30, what="the run under way")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    second = consumer(config)
    try:
        wait_for(lambda: counts(server, 2 * EVENTS)["lost"] == 0, timeout=60, what="every mail delivered")
        url = props["omero.mail.broker.url"]
        wait_for(lambda: sum(queue_depths(url, [topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE]).values()) == 0,
                 what="the queues drained")
    finally:
        second.terminate()
        second.wait(30)
    result = counts(server, 2 * EVENTS)
    print(f"kill -9: {result}")
    # Unacked outbox messages come back (up to the prefetch), and so may events whose
    # outbox copies were confirmed but whose ack was lost (two mails each).
    assert result["lost"] == 0 and result["duplicated"] <= 3 * PREFETCH
