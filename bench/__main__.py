"""``python -m bench`` (``make bench``): the figures of omero-mail's benchmark.

1 SMTP ceiling, 2 naive hand-written consumer, 3 fan-out of one broadcast to 20,000
users, 4 10,000 comment.added events, 5 latency at a steady 200 events/s, 6 confirmed
publishing, 7 consumer RSS; 8-10 the bridge from OMERO's database (``bench/bridge.py``);
11-12 the fan-out and the many events again on a three-node cluster with quorum queues
(``bench/cluster.py``); 13-17 the CPU per email against a lean sink, per stage, under
py-spy and beside Celery and Dramatiq, then the targets (``bench/costs.py``). Figures 3
and 4 also give the CPU per email of each process (``bench/cpu.py``).
omero-mail runs as ``omero-mail consume`` in a subprocess
(both stages, ``CONNECTIONS`` SMTP connections), exactly as a site runs it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pika

from events import topology as topo
from events.broker import Message, Publisher, declare_topology
from events.broker.connection import addresses
from events.schemas import new_event
from senders.mail import Mail, message_id
from senders.message import build

from .local import ctl, free_port
from . import bridge, cluster, costs, cpu, web_broadcasts, web_parking
from .references import naive_consumer, smtp_ceiling
from .sink import SinkProcess
from .startup import run as startup

ROOT = Path(__file__).resolve().parent.parent
VHOST = "omero-mail-bench"
URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
CONNECTIONS = 4
USERS = 20_000
MANY_EVENTS = 10_000
NAIVE_EVENTS = 5_000
CEILING_MESSAGES = 5_000
PUBLISHED = 20_000
RATE, STEADY_SECONDS = 200, 10
TOTAL_EMAILS = 100_000
MAIL_FROM = "omero@bench.example.org"
DOMAIN = "bench.example.org"


def address(user_id: int) -> str:
    return f"user{user_id}@{DOMAIN}"




def fresh_vhost() -> None:
    ctl("delete_vhost", VHOST)
    ctl("add_vhost", VHOST)
    ctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")


def write_site(folder: Path, sink_port: int, url: str = URL) -> Path:
    """Senders, a directory of USERS active users (root: an admin without email), properties."""
    senders = folder / "senders"
    senders.mkdir()
    shutil.copy(ROOT / "etc" / "mail-senders.example", senders / "mail-senders.xml")
    experimenters = [{"id": 0, "omeName": "root", "email": None, "groups": ["system", "user"]}]
    experimenters += [{"id": i, "omeName": f"user{i}", "email": address(i), "groups": ["user"]}
                      for i in range(1, USERS + 1)]
    directory = folder / "directory.json"
    directory.write_text(json.dumps({"groups": [{"id": 0, "name": "system"}, {"id": 1, "name": "user"},
                                                {"id": 2, "name": "guest"}], "experimenters": experimenters}))
    properties = folder / "bench.properties"
    properties.write_text("\n".join([
        f"omero.mail.broker.url={url}", "omero.mail.config=true", "omero.mail.host=127.0.0.1",
        f"omero.mail.port={sink_port}", f"omero.mail.from={MAIL_FROM}", f"omero.mail.senders.dir={senders}",
        f"omero.mail.directory.file={directory}", f"omero.mail.delivery.connections={CONNECTIONS}",
    ]) + "\n")
    return properties


def comment(user_id: int, number: int):
    return new_event("comment.added", {"comment_id": number, "image_id": number, "image_owner_id": user_id,
                                       "commenter_id": 0, "text": "Nice image", "image_name": f"image {number}"},
                     source="bench")


def as_message(event) -> Message:
    return Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id)


def comment_message_id(event) -> str:
    return message_id(event.id, "newCommentMailSender", address(event.data["image_owner_id"]), DOMAIN)


class ConsumerProcess:
    """``omero-mail consume`` in a subprocess; RSS read from /proc."""

    def __init__(self, properties: Path, log: Path, url: str = URL, stage: str = "all"):
        self.url = addresses(url)[0]
        self.log = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "consumer.admin.cli", "--config", str(properties),
                                         "consume", "--stage", stage], cwd=ROOT, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait_connected(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the consumer exited with {self.process.returncode}; see {self.log.name}")
            try:
                connection = pika.BlockingConnection(pika.URLParameters(self.url))
                channel = connection.channel()
                ready = all(channel.queue_declare(q, passive=True).method.consumer_count
                            for q in (topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE))
                connection.close()
                if ready:
                    return
            except pika.exceptions.AMQPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the consumer did not start consuming")

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) in MB."""
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines())
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        self.log.close()


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    rabbit = subprocess.run(["rabbitmqctl", "version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} CPU(s) {cpu}; Python {platform.python_version()}; RabbitMQ {rabbit}; "
            f"load average at start {os.getloadavg()[0]:.2f}")


def line(number: int, label: str, value: str, note: str = "") -> None:
    print(f"{number}. {label:<44} {value:>22}   {note}", flush=True)


def main() -> int:
    print(f"omero-mail benchmark on {machine()}\n", flush=True)
    startup(line)
    fresh_vhost()
    sink = SinkProcess(free_port()).start()
    workdir = Path(tempfile.mkdtemp(prefix="omero-mail-bench-"))
    consumer = None
    figures = costs.Figures()
    try:
        properties = write_site(workdir, sink.port)
        declare_topology(URL, topo.build())

        sample = Mail(message_id="<ceiling@bench.example.org>", event_id="bench", event_type="comment.added",
                      sender="bench", mail_from=MAIL_FROM, to=address(1),
                      subject="[OMERO] INSERT CommentAnnotation notification", text="Modified objects:\n")
        data = build(sample)
        ceiling = smtp_ceiling(sink.port, [(MAIL_FROM, address(1), data)] * CEILING_MESSAGES, CONNECTIONS)
        sink.take()
        line(1, f"SMTP ceiling (smtplib, {CONNECTIONS} reused connections)", f"{ceiling:,.0f} mails/s")

        connection = pika.BlockingConnection(pika.URLParameters(URL))
        channel = connection.channel()
        channel.queue_declare("bench.naive", durable=True)
        channel.confirm_delivery()
        for number in range(NAIVE_EVENTS):
            event = comment(number % USERS + 1, number)
            channel.basic_publish("", "bench.naive", event.to_json(), pika.BasicProperties(delivery_mode=2))
        connection.close()
        naive = naive_consumer(URL, "bench.naive", NAIVE_EVENTS, sink.port,
                               {i: address(i) for i in range(1, USERS + 1)})
        sink.take()
        line(2, "naive consumer (pika + EmailMessage + smtplib)", f"{naive:,.0f} mails/s",
             f"ceiling x {naive / ceiling:.2f}")

        events = [as_message(comment(n % USERS + 1, n)) for n in range(PUBLISHED)]
        with Publisher(URL) as publisher:
            started = time.perf_counter()
            publisher.publish_many(events)
            publish_rate = PUBLISHED / (time.perf_counter() - started)
        connection = pika.BlockingConnection(pika.URLParameters(URL))
        connection.channel().queue_purge(topo.EVENTS_QUEUE)
        connection.close()

        consumer = ConsumerProcess(properties, workdir / "consumer.log")
        consumer.wait_connected()
        idle_rss, _ = consumer.memory_mb()
        publisher = Publisher(URL)
        delivered = 0
        pids = {"consumer": consumer.process.pid, "RabbitMQ": cpu.rabbitmq_pid(), "sink": sink.pid}

        broadcast = new_event("admin.broadcast", {"subject": "Maintenance tonight", "body": "OMERO stops at 22:00.",
                                                  "everyone": True, "requested_by": "root"}, source="bench")
        meter = cpu.Meter(pids, VHOST).start()
        started = time.time()
        publisher.publish(as_message(broadcast))
        finished = sink.wait_for(USERS)
        figures.one_process["fan-out"] = meter.stop(USERS, finished - started)
        fanout = USERS / (finished - started)
        delivered += len(sink.take())
        _, peak_fanout = consumer.memory_mb()
        line(3, f"omero-mail fan-out (1 broadcast -> {USERS:,})", f"{fanout:,.0f} mails/s",
             f"{finished - started:.1f} s; ceiling x {fanout / ceiling:.2f}; naive x {fanout / naive:.2f}")
        print(f"    one process (both stages); {figures.one_process['fan-out'].describe()}", flush=True)

        events = [as_message(comment(n % USERS + 1, n)) for n in range(MANY_EVENTS)]
        meter = cpu.Meter(pids, VHOST).start()
        started = time.time()
        publisher.publish_many(events)
        finished = sink.wait_for(MANY_EVENTS)
        figures.one_process["many events"] = meter.stop(MANY_EVENTS, finished - started)
        many = MANY_EVENTS / (finished - started)
        delivered += len(sink.take())
        _, peak_many = consumer.memory_mb()
        line(4, f"omero-mail many events ({MANY_EVENTS:,} comment.added)", f"{many:,.0f} mails/s",
             f"{finished - started:.1f} s; ceiling x {many / ceiling:.2f}; naive x {many / naive:.2f}")
        print(f"    one process (both stages); {figures.one_process['many events'].describe()}", flush=True)

        published_at = {}
        started = time.monotonic()
        for number in range(RATE * STEADY_SECONDS):
            time.sleep(max(0.0, started + number / RATE - time.monotonic()))
            event = comment(number % USERS + 1, number)
            published_at[comment_message_id(event)] = time.time()
            publisher.publish(as_message(event))
        sink.wait_for(len(published_at))
        accepted = sink.take()
        delivered += len(accepted)
        latencies = sorted(1000 * (at - published_at[mid]) for mid, at in accepted if mid in published_at)
        p50, p99 = statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))]
        line(5, f"latency publish -> SMTP accepted at {RATE}/s", f"p50 {p50:.1f} / p99 {p99:.1f} ms",
             "target p99 <= 50 ms")
        figures.p99_ms = p99
        line(6, "publisher, confirms pipelined", f"{publish_rate:,.0f} events/s", "target >= 5,000")

        rss = []
        while delivered < TOTAL_EMAILS:
            publisher.publish(as_message(new_event("admin.broadcast", {
                "subject": "Again", "body": "More mail.", "everyone": True, "requested_by": "root"}, source="bench")))
            sink.wait_for(USERS)
            delivered += len(sink.take())
            rss.append(consumer.memory_mb()[0])
        publisher.close()
        current, peak = consumer.memory_mb()
        figures.rss_peak_mb, figures.rss_after_each = max(peak, peak_fanout, peak_many), rss
        line(7, "consumer RSS: idle / peak in 3 / peak in 4",
             f"{idle_rss:.0f} / {peak_fanout:.0f} / {peak_many:.0f} MB", "target <= 80 MB")
        line(7, f"consumer RSS after each 20,000 to {delivered:,} emails",
             " ".join(f"{value:.0f}" for value in rss) + " MB", f"peak {peak:.0f} MB; flat = no leak")
        consumer.stop()
        consumer = None
        bridge.run(URL, workdir, free_port(), line)
        cluster.run(workdir, sink, line, ConsumerProcess, write_site, as_message, comment, USERS, MANY_EVENTS,
                    {"fanout": fanout, "many": many})
        costs.run(costs.Harness(workdir, VHOST, ctl, line, write_site, ConsumerProcess, as_message, comment, address,
                                free_port, USERS, MANY_EVENTS), sink, figures)
        # The web app's figures (18-20): each starts its own vhost, consumer and web process.
        web_broadcasts.run(line)
        web_parking.run(line)
        print("\ntargets: fan-out and many events >= 0.6 x ceiling and >= 2 x naive; p99 <= 50 ms; "
              "publisher >= 5,000/s; RSS <= 80 MB and flat; bridge catch-up >= 5,000 events/s, "
              "lag p99 <= 2 s; web pages <= 300 ms, a followed broadcast <= 1 s behind at <= 2 % of a CPU", flush=True)
        return 0
    finally:
        # The vhost first: a Ctrl-C reaches the sink's process too, and stopping it then fails.
        ctl("delete_vhost", VHOST)
        shutil.rmtree(workdir, ignore_errors=True)
        if consumer is not None:
            consumer.stop()
        sink.stop()


if __name__ == "__main__":
    sys.exit(main())
