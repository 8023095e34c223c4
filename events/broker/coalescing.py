"""A consumer connection that writes once per turn of its I/O loop, not once per frame.

pika hands every frame to its transport as a buffer of its own (a publish is three: method,
properties, body) and the transport sends each buffer with a system call of its own, after
an ``epoll_ctl`` to watch for writability whenever its buffer was empty. With a publish, an
outcome and an ack per email, that was about seven ``sendto`` calls per email on the broker
socket of the delivery stage, and as many TCP segments for RabbitMQ to read.

:class:`CoalescingConnection` keeps what pika emits during one turn of the loop (the frames
read and the callbacks run in it) and gives it to the transport as one buffer at the end
of that turn (a ``call_later(0)`` timer: no system call to schedule it), in pieces of about
:data:`MOST` bytes at most (a piece ends with the frame that reaches it). The bytes and their
order are pika's own; only the number of writes changes. It overrides the one method pika
names for adapters to override (``Connection._adapter_emit_data``).
"""

from __future__ import annotations

from pika.adapters.select_connection import SelectConnection

#: Bytes joined into one write at most: a slice of large outbox messages (an HTML broadcast)
#: is handed over in pieces of this size, never as one buffer of megabytes.
MOST = 256 * 1024


class CoalescingConnection(SelectConnection):
    def __init__(self, *args, **kwargs) -> None:
        self._outgoing: list[bytes] = []
        self._outgoing_size = 0
        super().__init__(*args, **kwargs)

    def _adapter_emit_data(self, data: bytes) -> None:
        if not self._outgoing:
            self.ioloop.call_later(0, self._hand_over)
        self._outgoing.append(data)
        self._outgoing_size += len(data)
        if self._outgoing_size >= MOST:
            self._hand_over()

    def _hand_over(self) -> None:
        outgoing, self._outgoing, self._outgoing_size = self._outgoing, [], 0
        if outgoing and self._transport is not None:
            super()._adapter_emit_data(outgoing[0] if len(outgoing) == 1 else b"".join(outgoing))
