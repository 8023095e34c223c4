"""One-off broker calls: declare the topology, count queues, browse a queue.

The consumer declares the topology before every connection; the admin commands count
what waits in queues and browse the parking lots to move or remove chosen messages. Each
call opens a pika BlockingConnection of its own: for a call made once, a blocking call
reads more simply than callbacks on an I/O loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, TypeVar

import pika
import pika.exceptions

from .. import topology as topo
from .confirms import Message, properties
from .connection import describe, parameters, redacted
from .errors import BrokerError, PublishError, TopologyRefused

log = logging.getLogger(__name__)
T = TypeVar("T")
#: How long a read waits for the next message before taking the rest as held by another reader.
READ_PAUSE = 0.5


def _connect(url: str, name: str) -> pika.BlockingConnection:
    try:
        return pika.BlockingConnection(parameters(url, name=name))
    except pika.exceptions.AMQPError as exc:
        raise BrokerError(f"cannot connect to RabbitMQ at {redacted(url)}: {describe(exc)}") from None


def declare_topology(url: str, topology: topo.Topology) -> None:
    """Declare exchanges, queues and bindings (idempotent), as the connected RabbitMQ needs them.

    BrokerError when RabbitMQ cannot be reached; TopologyRefused, one line saying what to
    do, when it refuses a declaration (most often a queue made with other arguments). An
    exchange that exists is only checked (a passive declare), so a broker user without the
    configure permission on it (an admin's, README "Security") may still use it. A queue's
    arguments for RabbitMQ 4 (:attr:`topo.Queue.from_4`) go only to RabbitMQ 4 or later.
    """
    connection = _connect(url, "omero-mail declare")
    try:
        major = rabbitmq_major(connection)
        channel = connection.channel()
        for exchange in topology.exchanges:
            try:
                channel.exchange_declare(exchange.name, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                channel = connection.channel()
                channel.exchange_declare(exchange.name, exchange.type, durable=True)
        for queue in topology.queues:
            channel = _declare_queue(connection, channel, queue, major)
        for binding in topology.bindings:
            channel.queue_bind(binding.queue, binding.exchange, binding.routing_key)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise TopologyRefused(refusal(exc.reply_code, exc.reply_text)) from None
    finally:
        if connection.is_open:
            connection.close()


def _declare_queue(connection: pika.BlockingConnection, channel, queue: topo.Queue, major: int):
    """Declare one queue; the channel to go on with.

    A queue made before its RabbitMQ 4 arguments existed (by an older omero-mail, or before
    the broker's upgrade) would refuse them as inequivalent: it is then used as it is, and
    the warning says which policy gives it the same setting.
    """
    arguments = queue.arguments_on(major)
    try:
        channel.queue_declare(queue.name, durable=True, arguments=arguments)
        return channel
    except pika.exceptions.ChannelClosedByBroker as exc:
        if not (arguments != queue.arguments and exc.reply_code == 406 and "inequivalent arg" in exc.reply_text):
            raise
    channel = connection.channel()
    channel.queue_declare(queue.name, durable=True, arguments=queue.arguments)
    log.warning("%s was made without %s, which RabbitMQ %d needs: set it by a policy (README, 'Scaling out')",
                queue.name, ", ".join(f"{k}={v}" for k, v in queue.from_4.items()), major)
    return channel


def rabbitmq_major(connection: pika.BlockingConnection) -> int:
    """The connected RabbitMQ's major version (3 when it does not say)."""
    # pika keeps what the server announced (connection.start) on the connection a BlockingConnection wraps.
    properties = getattr(getattr(connection, "_impl", None), "server_properties", None) or {}
    version = properties.get("version") or properties.get(b"version") or b"3"
    text = version.decode() if isinstance(version, bytes) else str(version)
    try:
        return int(text.split(".", 1)[0])
    except ValueError:
        return 3


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
        for name, counted in _counted(connection, queues):
            depths[name] = counted[0] if counted else 0
    finally:
        connection.close()
    return depths


def queue_counts(url: str, queues: Iterable[str]) -> dict[str, tuple[int, int] | None]:
    """(messages ready, consumers) of each queue, None for one that does not exist; on one
    connection (passive declares: nothing is created, and no permission is needed)."""
    connection = _connect(url, "omero-mail depths")
    try:
        return dict(_counted(connection, queues))
    except pika.exceptions.AMQPError as exc:
        raise BrokerError(f"cannot count the queues' messages: {describe(exc)}") from None
    finally:
        if connection.is_open:
            connection.close()


def _counted(connection: pika.BlockingConnection, queues: Iterable[str]):
    """(name, (messages ready, consumers) or None) for each queue."""
    for name in queues:
        channel = connection.channel()
        try:
            method = channel.queue_declare(name, passive=True).method
        except pika.exceptions.ChannelClosedByBroker:
            yield name, None
            continue
        channel.close()
        yield name, (method.message_count, method.consumer_count)


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


class Refused(BrokerError):
    """RabbitMQ refused an operation (no permission, say): trying again will not mend it."""


#: Headers RabbitMQ rewrites each time it hands a message out: not part of what the message is.
_PER_DELIVERY = frozenset({"x-delivery-count", "x-acquired-count"})


@dataclass(frozen=True)
class Parked:
    """A message read from a queue by :class:`QueueBrowser`."""

    tag: int
    body: bytes
    message_id: str
    headers: dict
    routing_key: str
    content_type: str
    #: The broker user that published this copy, as RabbitMQ checked it ("" if it set none).
    user_id: str = ""

    @property
    def key(self) -> str:
        """The same for the same message at every read, so a message chosen once is found again."""
        headers = {k: v for k, v in self.headers.items() if k not in _PER_DELIVERY}
        digest = hashlib.sha256()
        for part in (self.message_id, self.routing_key, self.user_id, self.content_type,
                     json.dumps(headers, sort_keys=True, default=repr)):
            digest.update(part.encode() + b"\0")
        digest.update(self.body)
        return digest.hexdigest()


class QueueBrowser:
    """Read a queue without taking it from anyone else, then move or remove chosen messages.

    RabbitMQ cannot show a classic or quorum queue's messages in place: one read (delivered
    to a consumer, or by ``basic.get``) is held by its reader, unseen by every other reader
    (and by the queue's message count) until it is acked or given back. A read here is a
    consumer with no prefetch limit, cancelled once it has had the messages the queue
    counted: on RabbitMQ 3.10 a ``basic.get`` of a message given back before took 6 ms (a
    minute for 10,000), the consumer reads 10,000 in under a second. So :meth:`messages`
    gives back what it read as soon as it has read to the end of the queue, with one
    ``basic.nack`` and requeue (RabbitMQ puts each back in its place; a nack does not count
    as a failed delivery on a RabbitMQ 4.3 quorum queue), and :meth:`take` holds only the
    messages asked for, from one read of the queue until each is moved or removed, giving
    back the others at once. The commands read, choose and ask first; they take only what
    they then act on.

    :meth:`move` acks a message only after its copy was confirmed elsewhere, so a crash in
    between leaves it where it was. Every refusal or lost connection is a one-line
    :class:`BrokerError`; RabbitMQ gives back whatever was held when the connection goes.
    """

    def __init__(self, url: str, queue: str, *, name: str = "omero-mail parking"):
        self.queue = queue
        self._connection = _connect(url, name)
        #: The broker user this browser reads and publishes as (every node is logged into as the same user).
        self.user = parameters(url)[0].credentials.username
        self._channel = self._connection.channel()
        self._confirm: pika.adapters.blocking_connection.BlockingChannel | None = None

    def messages(self) -> list[Parked]:
        """Every message of the queue, all given back before this returns (their tags with them)."""
        found = self._read()
        if found:
            self._guarded(f"give back what it read of {self.queue}", self._channel.basic_nack, 0, True, True)
        return found

    def take(self, keys: Iterable[str]) -> list[Parked]:
        """The messages with these :attr:`Parked.key` s (each as many times as given), held until
        moved, removed or closed; every other message is given back at once."""
        wanted = Counter(keys)
        held = []
        for parked in self._read():
            if wanted[parked.key] > 0:
                wanted[parked.key] -= 1
                held.append(parked)
            else:
                self._guarded(f"give back what it read of {self.queue}", self._channel.basic_nack, parked.tag,
                              False, True)
        return held

    def _read(self) -> list[Parked]:
        try:
            ready = self._channel.queue_declare(self.queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker:
            self._channel = self._guarded("open a channel", self._connection.channel)
            return []
        except pika.exceptions.AMQPError as exc:
            raise self._lost(f"read {self.queue}", exc) from None
        found: list[Parked] = []

        def keep(_channel, method, props, body) -> None:
            found.append(Parked(method.delivery_tag, body, props.message_id or "", dict(props.headers or {}),
                                method.routing_key, props.content_type or "application/json", props.user_id or ""))

        # Consumed even when empty, so that RabbitMQ checks the read permission as for a full lot.
        tag = self._guarded(f"read {self.queue}", self._channel.basic_consume, self.queue, keep)
        while len(found) < ready:
            before = len(found)
            self._guarded(f"read {self.queue}", self._connection.process_data_events, READ_PAUSE)
            if len(found) == before:
                break  # the rest is held by another reader meanwhile
        # Deliveries not yet handed to ``keep`` are given back by pika as the consumer is cancelled.
        self._guarded(f"read {self.queue}", self._channel.basic_cancel, tag)
        return found

    def move(self, parked: Parked, message: Message) -> None:
        """Publish ``message`` with a confirm, then take ``parked`` off its queue."""
        if self._confirm is None:
            self._confirm = self._guarded("open a channel", self._connection.channel)
            self._guarded("open a channel", self._confirm.confirm_delivery)
        props = properties(message_id=message.message_id, headers=message.headers,
                           content_type=message.content_type, user_id=self.user)
        try:
            self._guarded(f"publish to {message.exchange or 'the default exchange'}", self._confirm.basic_publish,
                          message.exchange, message.routing_key, message.body, props, mandatory=message.mandatory)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
            raise PublishError(f"message {message.message_id} was not accepted by RabbitMQ: "
                               f"{type(exc).__name__}; it stays in {self.queue}") from None
        self.remove(parked)

    def remove(self, parked: Parked) -> None:
        self._guarded(f"remove a message from {self.queue}", self._channel.basic_ack, parked.tag)

    def _guarded(self, what: str, call: Callable[..., T], *args, **kwargs) -> T:
        """``call``, with RabbitMQ's refusal or a lost connection as one line saying what was being done."""
        try:
            return call(*args, **kwargs)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
            raise
        except pika.exceptions.ChannelClosedByBroker as exc:
            raise Refused(f"RabbitMQ refused to let broker user {self.user!r} {what}: {exc.reply_text} "
                          f"({exc.reply_code}); nothing more was done") from None
        except pika.exceptions.AMQPError as exc:
            raise self._lost(what, exc) from None

    def _lost(self, what: str, exc: BaseException) -> BrokerError:
        return BrokerError(f"the connection to RabbitMQ was lost while trying to {what} "
                           f"({describe(exc) or type(exc).__name__}): what was not done yet is still in "
                           f"{self.queue}; run the command again")

    def close(self) -> None:
        try:
            if self._connection.is_open:
                self._connection.close()
        except pika.exceptions.AMQPError:
            pass  # already gone: RabbitMQ has given back whatever was held

    def __enter__(self) -> "QueueBrowser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def existing_queues(url: str, queues: Iterable[str]) -> set[str]:
    """Which of ``queues`` exist (passive declare: nothing is created), however many messages are held."""
    found = set()
    connection = _connect(url, "omero-mail depths")
    try:
        for name in queues:
            channel = connection.channel()
            try:
                channel.queue_declare(name, passive=True)
                found.add(name)
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                pass
    finally:
        connection.close()
    return found
