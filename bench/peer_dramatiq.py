"""The Dramatiq peer: the same actor, RabbitMQ broker, one smtplib connection per worker thread.

Imported by ``dramatiq bench.peer_dramatiq`` and by the benchmark, which sends the
messages; the broker and the sink come from ``BENCH_BROKER_URL`` and ``BENCH_SMTP_PORT``.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from .peers import QUEUE_DRAMATIQ, send_email

broker = RabbitmqBroker(url=os.environ["BENCH_BROKER_URL"])
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE_DRAMATIQ, max_retries=0)
def send(to: str, number: int) -> None:
    send_email(to, number)
