"""Figures 18 and 20 of ``make bench``: the web app's broadcasts page and a broadcast's progress.

18 the broadcasts page (``GET /broadcasts/``, the HTML an admin waits for) with 1,000
broadcasts in ``omero.mail.broadcasts`` before the web app starts: the first GET right
after the login (whose Email page starts reading the index), then the median and the
slowest of :data:`GETS` more; each row's status is fetched afterwards by the page's script
and is not part of it. 20 a broadcast to 20,000 users composed on the Email
page and followed as its page does (a poll of ``progress`` half a second after each answer):
the delay between the SMTP sink accepting the last email and the first poll that answers
"finished", and the web process's CPU while polling, as a share of one CPU.

``omero-mail consume``, ``omero-mail web`` and the sink (``bench/sink.py``) each run as a
process of their own, on a vhost of the run's own, deleted after it. ``python -m
bench.web_broadcasts`` runs these two figures alone. Prints figures, asserts nothing.
"""

from __future__ import annotations

import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pika

from consumer.admin import results
from events import topology as topo
from events.broker import Publisher, declare_topology

from .browser import Browser
from .local import ctl, free_port
from .cpu import cpu_seconds
from .sink import SinkProcess

ROOT = Path(__file__).resolve().parent.parent
VHOST = "omero-mail-bench-broadcasts"
URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
USERS = 20_000
BROADCASTS = 1_000
GETS = 20
#: The page's script (static/omero_mail/broadcast.js): the next poll half a second after an answer.
POLL = 0.5
DOMAIN = "bench.example.org"




def write_site(folder: Path, sink_port: int) -> Path:
    """The example senders, USERS active users and root (an admin without an address), properties."""
    senders = folder / "senders"
    senders.mkdir()
    shutil.copy(ROOT / "etc" / "mail-senders.example", senders / "mail-senders.xml")
    people = [{"id": 0, "omeName": "root", "email": None, "groups": ["system", "user"]}]
    people += [{"id": n, "omeName": f"user{n}", "email": f"user{n}@{DOMAIN}", "groups": ["user"]}
               for n in range(1, USERS + 1)]
    directory = folder / "directory.json"
    directory.write_text(json.dumps({"groups": [{"id": 0, "name": "system"}, {"id": 1, "name": "user"}],
                                     "experimenters": people}))
    properties = folder / "web.properties"
    properties.write_text("\n".join([
        f"omero.mail.broker.url={URL}", "omero.mail.host=127.0.0.1", f"omero.mail.port={sink_port}",
        f"omero.mail.from=omero@{DOMAIN}", f"omero.mail.senders.dir={senders}",
        f"omero.mail.directory.file={directory}", "omero.mail.delivery.connections=4",
    ]) + "\n")
    return properties


class Process:
    """An ``omero-mail`` command in a process of its own, its output in a log file."""

    def __init__(self, properties: Path, log: Path, *command: str):
        self.log = log
        self.process = subprocess.Popen([sys.executable, "-m", "consumer.admin.cli", "--config", str(properties),
                                         *command], cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def wait_for(self, ready, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what}: see {self.log}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def consuming() -> bool:
    try:
        connection = pika.BlockingConnection(pika.URLParameters(URL))
    except pika.exceptions.AMQPError:
        return False
    try:
        channel = connection.channel()
        return all(channel.queue_declare(q, passive=True).method.consumer_count
                   for q in (topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE))
    except pika.exceptions.AMQPError:
        return False
    finally:
        if connection.is_open:
            connection.close()


def queue_index(count: int) -> None:
    """``count`` broadcasts in omero.mail.broadcasts, as the Email page and the command queue them."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    results.declare(URL, topo.build(), ids[0], 3_600_000)
    with Publisher(URL) as publisher:
        publisher.publish_many([results.queued(event_id, subject=f"Maintenance {n}", requested_by="root",
                                               recipients="users user1 (#1), user2 (#2); groups user (#1)",
                                               cc=1, bcc=0) for n, event_id in enumerate(ids)])


def broadcasts_page(browser: Browser, line) -> None:
    started = time.perf_counter()
    browser.get("broadcasts/")
    first = 1000 * (time.perf_counter() - started)
    times = []
    for _ in range(GETS):
        started = time.perf_counter()
        page = browser.get("broadcasts/")
        times.append(1000 * (time.perf_counter() - started))
    assert f"The last {BROADCASTS} broadcasts" in page, "the page does not list them all"
    line(18, f"broadcasts page with {BROADCASTS:,} broadcasts",
         f"p50 {statistics.median(times):.0f} / max {max(times):.0f} ms",
         f"{GETS} GETs after the first ({first:.0f} ms: right after the login, whose Email page started "
         "reading the index); target <= 300 ms")


def progress_of_a_broadcast(browser: Browser, sink: SinkProcess, web_pid: int, line) -> None:
    sink.reset()
    where = browser.post("email/", {"everyone": "on", "subject": "Maintenance tonight",
                                    "message": "OMERO stops at 22:00."}, token_from="broadcasts/")
    event_id = where.rstrip("/").rsplit("/", 1)[1]
    cpu_before, started = cpu_seconds(web_pid), time.time()
    shown: dict = {"summary": []}
    polls, deadline = 0, time.monotonic() + 600
    while True:
        if time.monotonic() > deadline:
            raise RuntimeError(f"broadcast {event_id} not finished in 600 s: {shown['summary']}")
        shown = json.loads(browser.get(f"broadcasts/{event_id}/progress"))
        answered = time.time()
        polls += 1
        if shown.get("finished"):
            break
        time.sleep(POLL)
    cpu = cpu_seconds(web_pid) - cpu_before
    accepted = sink.take()
    last = max(at for _, at in accepted)
    line(20, f"progress of a {USERS:,}-recipient broadcast",
         f"{1000 * (answered - last):.0f} ms late, web CPU {100 * cpu / (answered - started):.1f} %",
         f"{len(accepted):,} emails in {last - started:.1f} s, {polls} polls; {shown['summary'][0]}; "
         "targets <= 1 s and <= 2 % of one CPU")


def run(line) -> None:
    ctl("delete_vhost", VHOST)
    ctl("add_vhost", VHOST)
    ctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
    workdir = Path(tempfile.mkdtemp(prefix="omero-mail-bench-broadcasts-"))
    sink = SinkProcess(free_port()).start()
    started: list[Process] = []
    try:
        properties = write_site(workdir, sink.port)
        declare_topology(URL, topo.build())
        consumer = Process(properties, workdir / "consumer.log", "consume")
        started.append(consumer)
        consumer.wait_for(consuming, "the consumer did not start consuming")
        queue_index(BROADCASTS)
        port = free_port()
        web = Process(properties, workdir / "web.log", "web", "--port", str(port))
        started.append(web)
        web.wait_for(lambda: "omero-mail web on" in web.log.read_text(), "the web app did not start")
        browser = Browser(f"http://127.0.0.1:{port}/")
        browser.log_in()
        broadcasts_page(browser, line)
        progress_of_a_broadcast(browser, sink, web.process.pid, line)
    finally:
        for process in reversed(started):
            process.stop()
        ctl("delete_vhost", VHOST)
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _line(number: int, label: str, value: str, note: str = "") -> None:
    print(f"{number}. {label:<44} {value:>22}   {note}", flush=True)


if __name__ == "__main__":
    run(_line)
