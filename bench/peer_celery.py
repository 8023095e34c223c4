"""The Celery peer: one task per email, ``acks_late``, one smtplib connection per worker process.

Imported by ``celery -A bench.peer_celery worker`` and by the benchmark, which sends the
tasks; the broker and the sink come from ``BENCH_BROKER_URL`` and ``BENCH_SMTP_PORT``.
"""

from __future__ import annotations

import os

from celery import Celery

from .peers import QUEUE_CELERY, send_email

app = Celery("bench_peer_celery", broker=os.environ["BENCH_BROKER_URL"])
app.conf.update(task_acks_late=True, task_ignore_result=True, task_default_queue=QUEUE_CELERY,
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)


@app.task(name="bench.send_email")
def send(to: str, number: int) -> None:
    send_email(to, number)
