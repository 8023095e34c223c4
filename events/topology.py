"""Every exchange, queue and binding of omero-mail, named and declared in one place.

The names are the contract other programs rely on (README, "How it works"). The same
description feeds the consumer's declarations at connect time and the RabbitMQ
definitions file in ``deploy/``, so the two cannot drift apart. It is built from typed
values (``events/settings.py`` parses the properties).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .settings import QueueSettings, queue_settings
# parse_duration_ms: re-exported for the commands that read a duration beside the topology
from .values import UNIT_MS, parse_duration_ms as parse_duration_ms

EVENTS_EXCHANGE = "omero.events"
MAIL_EXCHANGE = "omero.mail"
RESULTS_EXCHANGE = "omero.mail.results"

EVENTS_QUEUE = "omero.mail.events"
OUTBOX_QUEUE = "omero.mail.outbox"
FAILED_QUEUE = "omero.mail.failed"
INVALID_QUEUE = "omero.mail.invalid"

#: Routing keys on the omero.mail exchange.
OUTBOX_KEY = "outbox"
FAILED_KEY = "failed"
INVALID_KEY = "invalid"

#: omero.mail.retry.delays' default, 30s,5m,30m.
DEFAULT_RETRY_DELAYS_MS = (30_000, 300_000, 1_800_000)


def duration_label(ms: int) -> str:
    for unit in ("h", "m", "s"):
        if ms % UNIT_MS[unit] == 0:
            return f"{ms // UNIT_MS[unit]}{unit}"
    return f"{ms}ms"


def retry_queue(delay_ms: int) -> str:
    return f"omero.mail.retry.{duration_label(delay_ms)}"


def retry_key(delay_ms: int) -> str:
    return f"retry.{duration_label(delay_ms)}"


def result_key(event_id: str, outcome: str) -> str:
    """Routing key on omero.mail.results; bind ``<event id>.#`` to follow one event."""
    return f"{event_id}.{outcome}"


@dataclass(frozen=True)
class Exchange:
    name: str
    type: str


@dataclass(frozen=True)
class Queue:
    name: str
    arguments: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Binding:
    exchange: str
    queue: str
    routing_key: str


@dataclass(frozen=True)
class Topology:
    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[Binding, ...]
    retry_delays_ms: tuple[int, ...]


def build(retry_delays_ms: Sequence[int] = DEFAULT_RETRY_DELAYS_MS, queue_type: str = "classic",
          delivery_limit: int = 5) -> Topology:
    """The whole topology for the given retry tiers (ms) and queue type (classic or quorum)."""
    if queue_type not in ("classic", "quorum"):
        raise ValueError(f"queue type must be classic or quorum, not {queue_type!r}")
    delays = tuple(retry_delays_ms)
    base: dict = {"x-queue-type": queue_type}
    work = dict(base)
    if queue_type == "quorum":
        # A message that keeps killing its consumer is dead-lettered after this many deliveries.
        work.update({
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": MAIL_EXCHANGE,
            "x-dead-letter-routing-key": FAILED_KEY,
        })
    queues = [
        Queue(EVENTS_QUEUE, dict(work, **({"x-dead-letter-routing-key": INVALID_KEY} if queue_type == "quorum" else {}))),
        Queue(OUTBOX_QUEUE, work),
        Queue(FAILED_QUEUE, base),
        Queue(INVALID_QUEUE, base),
    ]
    bindings = [
        Binding(EVENTS_EXCHANGE, EVENTS_QUEUE, "#"),
        Binding(MAIL_EXCHANGE, OUTBOX_QUEUE, OUTBOX_KEY),
        Binding(MAIL_EXCHANGE, FAILED_QUEUE, FAILED_KEY),
        Binding(MAIL_EXCHANGE, INVALID_QUEUE, INVALID_KEY),
    ]
    for delay in delays:
        queues.append(Queue(retry_queue(delay), dict(base, **{
            "x-message-ttl": delay,
            "x-dead-letter-exchange": MAIL_EXCHANGE,
            "x-dead-letter-routing-key": OUTBOX_KEY,
        })))
        bindings.append(Binding(MAIL_EXCHANGE, retry_queue(delay), retry_key(delay)))
    return Topology(
        exchanges=(
            Exchange(EVENTS_EXCHANGE, "topic"),
            Exchange(MAIL_EXCHANGE, "direct"),
            Exchange(RESULTS_EXCHANGE, "topic"),
        ),
        queues=tuple(queues),
        bindings=tuple(bindings),
        retry_delays_ms=delays,
    )


def from_settings(queues: QueueSettings) -> Topology:
    return build(queues.retry_delays_ms, queues.type, queues.delivery_limit)


def from_properties(props) -> Topology:
    """For the commands that need the queues and nothing else typed (definitions, broadcast)."""
    return from_settings(queue_settings(props))
