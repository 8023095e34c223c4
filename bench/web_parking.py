"""Figure 19: the parking lot page with 10,000 parked messages (``python -m bench.web_parking`` alone).

``omero-mail web`` runs as a site runs it, a process of its own on waitress, against a vhost
of its own where 10,000 emails are parked in ``omero.mail.failed`` as the delivery stage
parks them. An admin logs in and asks for the lot's first page and for a filtered page,
:data:`GETS` times each, one GET every :data:`PAUSE` seconds, so that the page's snapshot of
the lot is read again in the background meanwhile, as it is while an admin browses
(``consumer/admin/web/snapshots.py``). Prints the median and the longest answer, and the
first GET (which reads the lot) apart. Asserts nothing.
"""

from __future__ import annotations

import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from consumer import outcomes
from events import topology as topo
from events.broker import Message, Publisher, declare_topology
from senders.mail import Mail, message_id

from .browser import Browser
from .local import ctl, free_port

ROOT = Path(__file__).resolve().parent.parent
VHOST = "omero-mail-bench-web"
URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
PARKED = 10_000  # the figure's label says so
GETS = 20
PAUSE = 0.5
FILTERED = "recipient=user42"



def park(count: int) -> None:
    """``count`` emails refused with 550, parked as the delivery stage parks them."""
    declare_topology(URL, topo.build())
    headers = {outcomes.REASON: "recipient refused: 550 5.1.1 No such user", outcomes.ATTEMPTS: 1,
               outcomes.PARKED_AT: outcomes.now_iso(), outcomes.SENDER: "newUserMailSender"}
    messages = []
    for n in range(count):
        to = f"user{n}@bench.example.org"
        mail = Mail(message_id=message_id(f"bench-{n}", "newUserMailSender", to, "bench.example.org"),
                    event_id=f"bench-{n}", event_type="object.created", sender="newUserMailSender",
                    mail_from="omero@bench.example.org", to=to, subject="[OMERO] INSERT Experimenter notification",
                    text="Modified objects:\nclass ome.model.meta.Experimenter:%d - INSERT\n" % n)
        messages.append(Message(topo.MAIL_EXCHANGE, topo.FAILED_KEY, mail.to_json(), mail.message_id,
                                {**headers, outcomes.RECIPIENT: to}))
    with Publisher(URL) as publisher:
        publisher.publish_many(messages)


def _start_web(folder: Path) -> tuple[subprocess.Popen, str]:
    config = folder / "web.properties"
    config.write_text(f"omero.mail.broker.url={URL}\nomero.mail.config=false\nomero.mail.senders.dir={folder}\n")
    port = free_port()
    log = open(folder / "web.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "consumer.admin.cli", "--config", str(config), "web",
                                "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "login/", timeout=5).read()
            return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"omero-mail web did not start: {(folder / 'web.log').read_text()}")


def run(line: Callable[..., None]) -> None:
    ctl("delete_vhost", VHOST)
    ctl("add_vhost", VHOST)
    ctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
    folder = Path(tempfile.mkdtemp(prefix="omero-mail-bench-web-"))
    process = None
    try:
        park(PARKED)
        process, base = _start_web(folder)
        admin = Browser(base)
        admin.log_in()
        first, _ = admin.timed("parking/failed/")
        plain: list[float] = []
        filtered: list[float] = []
        reads = set()
        for _ in range(GETS):
            for path, times in (("parking/failed/", plain), (f"parking/failed/?{FILTERED}", filtered)):
                took, page = admin.timed(path)
                times.append(took)
                reads.update(re.findall(r"as read ([0-9: -]+) UTC", page))
                time.sleep(PAUSE)
        for label, times, note in (("parking lot page with 10,000 parked messages", plain, "first page"),
                                   ("  the same, filtered", filtered, FILTERED)):
            line(19, label, f"median {statistics.median(times):.0f} / max {max(times):.0f} ms",
                 f"{note}; {len(times)} GETs; target <= 300 ms")
        line(19, "  the lot read whole (the first GET)", f"{first:,.0f} ms",
             f"then again in the background {len(reads) - 1} time(s) during the GETs")
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)
            process.wait(30)
        ctl("delete_vhost", VHOST)


def _line(number: int, label: str, value: str, note: str = "") -> None:
    print(f"{number}. {label:<44} {value:>22}   {note}", flush=True)


if __name__ == "__main__":
    run(_line)
