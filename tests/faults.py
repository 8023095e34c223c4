"""Faults the tests inject: a TCP proxy they can cut, and SMTP servers that misbehave on cue.

- :class:`Proxy` sits between the consumer and RabbitMQ; :meth:`Proxy.cut` drops every
  open connection and refuses new ones until :meth:`Proxy.restore`; while ``holding`` is
  set it keeps what the client sends (counted in ``held``) instead of passing it on, so the
  client's connection stays up while its publishes go unconfirmed.
- :class:`FlakyHandler` answers ``451`` to the first few DATA commands, then ``250``.
- :class:`RefusingHandler` refuses chosen recipients at RCPT (``550`` for good, or a
  ``450`` a given number of times), and accepts the rest.
- :class:`SlowHandler` takes a little time per message, so a run is still going when
  the test strikes.
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import uuid
from collections import Counter

from consumer.outbox import outbox_message
from consumer.admin.sink import MaildirHandler, Received
from events import topology as topo
from events.broker import Parked, Publisher, QueueBrowser, declare_topology
from senders.mail import Mail, message_id
from senders.transports import Transport


class Proxy:
    """A TCP forwarder from a free local port to ``target``, under the test's control."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._refusing = threading.Event()
        self._closed = threading.Event()
        self.cuts = 0
        self.holding = threading.Event()
        self.held = 0
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and self.holding.is_set():
                        self.held += len(data)
                        continue
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in peers:
                sock.close()

    def cut(self) -> None:
        """Drop every connection through the proxy and refuse new ones."""
        self._refusing.set()
        self.cuts += 1
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def restore(self) -> None:
        self._refusing.clear()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._listener.close()


class FlakyHandler(MaildirHandler):
    """Answers ``451`` to the first ``failures`` DATA commands, then accepts."""

    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures
        self.refusals = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            if self.refusals < self.failures:
                self.refusals += 1
                return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


class RefusingHandler(MaildirHandler):
    """Refuses the recipients in ``refuse`` (address -> reply) at RCPT.

    A ``4xx`` reply is given ``times`` times per address, then the address is accepted;
    a ``5xx`` reply is given for as long as the address stays in ``refuse``.
    """

    def __init__(self, refuse: dict[str, str], times: int = 1_000_000):
        super().__init__()
        self.refuse = dict(refuse)
        self.times = times
        self.refused = Counter()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        with self.lock:
            reply = self.refuse.get(address)
            if reply and (reply.startswith("5") or self.refused[address] < self.times):
                self.refused[address] += 1
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"


class SlowHandler(MaildirHandler):
    """Takes ``delay`` seconds per message."""

    def __init__(self, delay: float = 0.02):
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(self.delay)
        data = envelope.original_content or envelope.content
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), data))
        return "250 OK"


class CrashingTransport(Transport):
    """A transport with a bug: every send raises something that is not a delivery error."""

    def send(self, envelope):
        raise RuntimeError("transport bug")


def counts(server, expected: int) -> dict:
    """sent / duplicated / lost, by Message-ID, for the report of a fault test."""
    seen = Counter(m["Message-ID"] for m in server.messages)
    return {"sent": len(seen), "duplicated": sum(n - 1 for n in seen.values()), "lost": expected - len(seen)}


def outbox_mail(to: str, cc: tuple[str, ...] = (), subject: str = "Test") -> Mail:
    event_id = str(uuid.uuid4())
    return Mail(message_id=message_id(event_id, "testMailSender", to, "example.org"), event_id=event_id,
                event_type="admin.broadcast", sender="testMailSender", mail_from="omero@example.org", to=to,
                subject=subject, text="Hello.\n", cc=cc)


def publish_mails(url: str, mails) -> list[Mail]:
    """Put emails straight into the outbox, as the rules stage would."""
    declare_topology(url, topo.build((1000, 2000)))
    with Publisher(url) as publisher:
        publisher.publish_many([outbox_message(mail) for mail in mails])
    return list(mails)


def parked(url: str, queue: str = topo.FAILED_QUEUE) -> list[Parked]:
    """What sits in a parking lot, left in place."""
    with QueueBrowser(url, queue) as browser:
        return browser.messages()
