"""What a site would pick instead of omero-mail, on the same broker and sink in the same run.

Celery 5 (prefork, ``acks_late``) and Dramatiq (one process, threads), one task or actor
call per email, each building its message with ``EmailMessage`` and sending it on an
smtplib connection it keeps (per worker process for Celery, per thread for Dramatiq).
They are the ``bench`` extra (``pip install -e '.[bench]'``); without it they are skipped.
Each configuration runs in a vhost of its own, with its workers started and consuming
before the bench sends ``EMAILS`` tasks; the time runs from the first send to the sink's
last acceptance, the CPU is the workers' (every process of the worker), RabbitMQ's and
the sink's over the same span.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import smtplib
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable

import pika

from . import cpu

ROOT = Path(__file__).resolve().parent.parent
EMAILS = int(os.environ.get("BENCH_PEER_EMAILS", "10000"))
QUEUE_CELERY = "bench.celery"
QUEUE_DRAMATIQ = "bench.dramatiq"
MAIL_FROM = "omero@bench.example.org"
_local = threading.local()


def send_email(to: str, number: int) -> None:
    """The peers' task: build one comment notification and send it on this thread's connection."""
    message = EmailMessage()
    message["From"] = MAIL_FROM
    message["To"] = to
    message["Subject"] = "[OMERO] INSERT CommentAnnotation notification"
    message["Message-ID"] = f"<peer-{number}@bench.example.org>"
    message.set_content(f"Modified objects:\nclass ome.model.annotations.CommentAnnotation:{number} - INSERT\n")
    smtp = getattr(_local, "smtp", None)
    if smtp is None:
        smtp = _local.smtp = smtplib.SMTP("127.0.0.1", int(os.environ["BENCH_SMTP_PORT"]))
    smtp.send_message(message)


def available() -> str | None:
    """None when both peers can run, else the line that says why they are skipped."""
    missing = [name for name in ("celery", "dramatiq", "pika") if importlib.util.find_spec(name) is None]
    if missing:
        return (f"peers skipped: {', '.join(missing)} not installed; "
                "pip install -e '.[bench]' (make bench does) to compare with Celery and Dramatiq")
    return None


@dataclass
class Peer:
    name: str
    queue: str
    module: str
    command: list[str]


def configurations() -> list[Peer]:
    celery = [Peer(f"Celery prefork x{n}", QUEUE_CELERY, "bench.peer_celery",
                   ["-m", "celery", "-A", "bench.peer_celery", "worker", "--pool", "prefork", "--concurrency", str(n),
                    "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING",
                    "-Q", QUEUE_CELERY]) for n in (1, 2)]
    dramatiq = [Peer(f"Dramatiq 1 process x{n} threads", QUEUE_DRAMATIQ, "bench.peer_dramatiq",
                     ["-m", "dramatiq", "bench.peer_dramatiq", "--processes", "1", "--threads", str(n),
                      "--queues", QUEUE_DRAMATIQ]) for n in (2, 4)]
    return celery + dramatiq


def _consumers(url: str, queue: str) -> int:
    try:
        connection = pika.BlockingConnection(pika.URLParameters(url))
    except pika.exceptions.AMQPError:
        return 0
    try:
        return connection.channel().queue_declare(queue, passive=True).method.consumer_count
    except pika.exceptions.AMQPError:
        return 0
    finally:
        if connection.is_open:
            connection.close()


def _sender(peer: Peer) -> Callable[[str, int], None]:
    """The bench's side: send one task of ``peer`` (its module imported here with the env set)."""
    module: Any = importlib.reload(sys.modules[peer.module]) if peer.module in sys.modules \
        else importlib.import_module(peer.module)
    if peer.module.endswith("celery"):
        producer = module.app.producer_pool.acquire(block=True)
        task = module.send
        return lambda to, number: task.apply_async((to, number), producer=producer)
    return lambda to, number: module.send.send(to, number)


def run_one(peer: Peer, vhost: str, ctl: Callable[..., None], sink: Any, sink_pid: int, log: Path,
            address: Callable[[int], str]) -> cpu.Usage:
    ctl("delete_vhost", vhost)
    ctl("add_vhost", vhost)
    ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    os.environ.update(BENCH_BROKER_URL=url, BENCH_SMTP_PORT=str(sink.port))
    with log.open("ab") as output:
        worker = subprocess.Popen([sys.executable, *peer.command], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        deadline = time.monotonic() + 60
        while _consumers(url, peer.queue) == 0:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{peer.name} did not start consuming; see {log}")
            time.sleep(0.2)
        time.sleep(1.0)  # the pool's children started and idle
        send = _sender(peer)
        sink.reset()

        def run() -> float:
            started = time.time()
            for number in range(EMAILS):
                send(address(number % 20_000 + 1), number)
            return sink.wait_for(EMAILS) - started

        usage = cpu.measured({"workers": worker.pid, "RabbitMQ": cpu.rabbitmq_pid(), "sink": sink_pid}, vhost,
                             EMAILS, run)
        sink.reset()
        return usage
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
        ctl("delete_vhost", vhost)
