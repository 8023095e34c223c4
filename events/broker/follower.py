"""Follow what a topic exchange routes to a kept queue, from what it holds now on, without holding any of it.

``omero-mail broadcast --wait`` follows a broadcast's outcomes for as long as its emails
take: hours, with the retry tiers. Its results queue keeps them for ``broadcast status``,
so a consumer of that queue could not ack them: it would hold every one unacked, hidden
from any other reader (``broadcast status`` would not know the broadcast), and RabbitMQ
closes a channel whose delivery stays unacked longer than its ``consumer_timeout`` (30
minutes by default).

So a :class:`Follower` binds a queue of its own (exclusive, so RabbitMQ deletes it with
the connection) to the same exchange and routing key, then reads the kept queue once
with :class:`QueueBrowser` (everything given back at once), then consumes its own queue
with automatic acks: nothing is held, and no timeout applies. A message routed between
the bind and the read arrives twice, which the handler counts once. With ``gather``, it
reads what has come every ``gather`` seconds instead of waking for each message: a page
that polls twice a second needs no more, and a broadcast's thousand reports then cost a
few dozen wake-ups instead of a thousand (measured: 0.12 s of CPU against 0.42 s for 20,000
emails). A lost connection is followed by the same three steps on a new one, after a pause.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Callable

import pika
import pika.exceptions

from .admin import QueueBrowser, Refused, _connect
from .connection import describe, redacted
from .errors import BrokerError

log = logging.getLogger(__name__)

#: Seconds between reconnections, and at most between two looks at :meth:`Follower.stop`.
PAUSE = 1.0


class Follower:
    """Hand ``handler`` the body of every message of ``kept``, then of each one routed to it from now on."""

    def __init__(self, url: str, kept: str, exchange: str, routing_key: str, handler: Callable[[bytes], None], *,
                 name: str = "omero-mail follower", gather: float = 0.0):
        self.url = url
        self.kept = kept
        self.exchange = exchange
        self.routing_key = routing_key
        self.handler = handler
        self.name = name
        self.gather = gather
        #: Set once the kept queue was read and the follower's own queue is consumed.
        self.following = threading.Event()
        #: Why it gave up (RabbitMQ refused it something), or None.
        self.error: str | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        """Follow until :meth:`stop` or a refusal; connect again whenever the connection is lost."""
        while not self._stopping.is_set():
            try:
                self._follow()
            except pika.exceptions.ChannelClosedByBroker as exc:
                self.error = f"RabbitMQ refused to let this follow {self.kept}: {exc.reply_text} ({exc.reply_code})"
                return
            except Refused as exc:
                self.error = str(exc)
                return
            except (BrokerError, pika.exceptions.AMQPError) as exc:
                self.following.clear()
                log.warning("following %s at %s: %s; again in %.0fs", self.kept, redacted(self.url),
                            describe(exc) if not isinstance(exc, BrokerError) else exc, PAUSE)
                self._stopping.wait(PAUSE)

    def stop(self) -> None:
        """Stop following (thread-safe); the follower's queue goes with its connection."""
        self._stopping.set()

    def _follow(self) -> None:
        connection = _connect(self.url, self.name)
        try:
            channel = connection.channel()
            own = f"{self.kept}.follower-{uuid.uuid4().hex[:12]}"
            channel.queue_declare(own, exclusive=True, auto_delete=True, arguments={"x-queue-type": "classic"})
            channel.queue_bind(own, self.exchange, self.routing_key)
            with QueueBrowser(self.url, self.kept, name=self.name) as browser:
                for parked in browser.messages():
                    self.handler(parked.body)
            channel.basic_consume(own, lambda _channel, _method, _props, body: self.handler(body), auto_ack=True)
            self.following.set()
            while not self._stopping.is_set():
                if self.gather:
                    connection.process_data_events(time_limit=0)
                    self._stopping.wait(self.gather)
                else:
                    connection.process_data_events(time_limit=PAUSE)
        finally:
            self.following.clear()
            if connection.is_open:
                try:
                    connection.close()
                except pika.exceptions.AMQPError:
                    pass
