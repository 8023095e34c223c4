"""SIGTERM stops the consumer cleanly: in-flight mail finishes or goes back; nothing is lost."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter

from events import topology as topo
from events.broker import queue_depths

from .conftest import SMTPServer, wait_for
from .faults import SlowHandler
from .services import free_port


def write_properties(path, props, port):
    keys = ["omero.mail.config", "omero.mail.broker.url", "omero.mail.host", "omero.mail.from",
            "omero.mail.senders.dir", "omero.mail.directory.file"]
    lines = [f"{key}={props[key]}" for key in keys] + [f"omero.mail.port={port}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def message_ids(server):
    return Counter(m["Message-ID"] for m in server.messages)


def test_sigterm_during_a_run_loses_nothing_and_sends_nothing_twice(props, publish, make_service, tmp_path):
    server = SMTPServer(port=free_port(), handler=SlowHandler()).start()
    try:
        config = write_properties(tmp_path / "consumer.properties", props, server.port)
        consumer = subprocess.Popen([sys.executable, "-m", "consumer.admin.cli", "--config", str(config), "consume"],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(100):
            publish("server.startup")
        wait_for(lambda: len(server.handler.received) >= 20, timeout=30, what="the run to be under way")
        consumer.send_signal(signal.SIGTERM)
        output, _ = consumer.communicate(timeout=60)
        assert consumer.returncode == 0, output
        delivered_before = len(server.handler.received)
        assert delivered_before < 200, "the run finished before it was stopped; nothing was tested"

        make_service(omero__mail__port=str(server.port))
        url = props["omero.mail.broker.url"]
        wait_for(lambda: len(server.handler.received) >= 200, timeout=60, what="all 200 mails")
        wait_for(lambda: sum(queue_depths(url, [topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE]).values()) == 0,
                 what="the queues drained")
        ids = message_ids(server)
        assert len(ids) == 200
        assert max(ids.values()) == 1
    finally:
        server.stop()
