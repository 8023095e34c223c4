"""One-off broker calls: declare the topology, count queues, browse a queue.

The consumer declares the topology before every connection; the admin commands count
what waits in queues and browse the parking lot to move or remove chosen messages. Each
call opens a pika BlockingConnection of its own: for a call made once, a blocking call
reads more simply than callbacks on an I/O loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import pika
import pika.exceptions

from .. import topology as topo
from .confirms import Message, properties
from .connection import describe, parameters, redacted
from .errors import BrokerError, PublishError, TopologyRefused


def _connect(url: str, name: str) -> pika.BlockingConnection:
    try:
        return pika.BlockingConnection(parameters(url, name=name))
    except pika.exceptions.AMQPError as exc:
        raise BrokerError(f"cannot connect to RabbitMQ at {redacted(url)}: {describe(exc)}") from None


def declare_topology(url: str, topology: topo.Topology) -> None:
    """Declare exchanges, queues and bindings (idempotent).

    BrokerError when RabbitMQ cannot be reached; TopologyRefused, one line saying what to
    do, when it refuses a declaration (most often a queue made with other arguments). An
    exchange that exists is only checked (a passive declare), so a broker user without the
    configure permission on it (an admin's, README "Security") may still use it.
    """
    connection = _connect(url, "omero-mail declare")
    try:
        channel = connection.channel()
        for exchange in topology.exchanges:
            try:
                channel.exchange_declare(exchange.name, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                channel = connection.channel()
                channel.exchange_declare(exchange.name, exchange.type, durable=True)
        for queue in topology.queues:
            channel.queue_declare(queue.name, durable=True, arguments=queue.arguments)
        for binding in topology.bindings:
            channel.queue_bind(binding.queue, binding.exchange, binding.routing_key)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise TopologyRefused(refusal(exc.reply_code, exc.reply_text)) from None
    finally:
        if connection.is_open:
            connection.close()


def refusal(code: int, text: str) -> str:
    """What RabbitMQ's refusal of a declaration means for the person who runs omero-mail."""
    if code == 406 and "inequivalent arg" in text:
        return (f"RabbitMQ refused the topology ({text}): the queue was made with other arguments (by an "
                "older omero-mail, another omero.mail.queue.type, or definitions loaded without "
                "omero.mail.queue.policies=true); README, 'Upgrading an existing broker', says how to move it")
    return f"RabbitMQ refused the topology: {text}"


def queue_depths(url: str, queues: Iterable[str]) -> dict[str, int]:
    """Messages ready in each queue (passive declare: nothing is created)."""
    depths = {}
    connection = pika.BlockingConnection(parameters(url, name="omero-mail depths"))
    try:
        for name in queues:
            channel = connection.channel()
            try:
                depths[name] = channel.queue_declare(name, passive=True).method.message_count
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                depths[name] = 0
    finally:
        connection.close()
    return depths


def consumer_count(url: str, queue: str) -> int:
    """Consumers of ``queue`` (passive declare). Of a single active consumer queue, a classic
    queue counts those standing by too, a quorum queue the active one only: 0 means none."""
    connection = _connect(url, "omero-mail consumers")
    try:
        return connection.channel().queue_declare(queue, passive=True).method.consumer_count
    except pika.exceptions.AMQPError as exc:
        raise BrokerError(f"cannot count the consumers of {queue}: {describe(exc)}") from None
    finally:
        if connection.is_open:
            connection.close()


@dataclass(frozen=True)
class Parked:
    """A message read from a queue by :class:`QueueBrowser`, not yet taken off it."""

    tag: int
    body: bytes
    message_id: str
    headers: dict
    routing_key: str
    content_type: str


class QueueBrowser:
    """Read a whole queue without consuming it, then move or remove chosen messages.

    Every message is fetched with ``basic.get`` and left unacked; closing gives back
    whatever was not acked, in place (RabbitMQ requeues a closed channel's messages).
    :meth:`move` acks a message only after its copy was confirmed elsewhere, so a crash
    in between leaves it where it was rather than losing it.
    """

    def __init__(self, url: str, queue: str, *, name: str = "omero-mail parking"):
        self.queue = queue
        self._connection = _connect(url, name)
        self._user_id = parameters(url)[0].credentials.username  # every node is logged into as the same user
        self._channel = self._connection.channel()
        self._confirm: pika.adapters.blocking_connection.BlockingChannel | None = None

    def messages(self) -> list[Parked]:
        try:
            self._channel.queue_declare(self.queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            self._channel = self._connection.channel()
            return []
        found: list[Parked] = []
        while True:
            method, props, body = self._channel.basic_get(self.queue, auto_ack=False)
            if method is None:
                return found
            found.append(Parked(method.delivery_tag, body, props.message_id or "", dict(props.headers or {}),
                                method.routing_key, props.content_type or "application/json"))

    def move(self, parked: Parked, message: Message) -> None:
        """Publish ``message`` with a confirm, then take ``parked`` off its queue."""
        if self._confirm is None:
            self._confirm = self._connection.channel()
            self._confirm.confirm_delivery()
        props = properties(message_id=message.message_id, headers=message.headers,
                           content_type=message.content_type, user_id=self._user_id)
        try:
            self._confirm.basic_publish(message.exchange, message.routing_key, message.body, props,
                                        mandatory=message.mandatory)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
            raise PublishError(f"message {message.message_id} was not accepted by RabbitMQ: "
                               f"{type(exc).__name__}") from None
        self.remove(parked)

    def remove(self, parked: Parked) -> None:
        self._channel.basic_ack(parked.tag)

    def close(self) -> None:
        if self._connection.is_open:
            self._connection.close()

    def __enter__(self) -> "QueueBrowser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
