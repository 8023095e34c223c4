"""A consumer connection that writes once per turn of its I/O loop, not once per frame.

pika hands every frame to its transport as a buffer of its own (a publish is three: method,
properties, body) and the transport sends each buffer with a system call of its own, after
an ``epoll_ctl`` to watch for writability whenever its buffer was empty. With a publish, an
outcome and an ack per email, that was about seven ``sendto`` calls per email on the broker
socket of the delivery stage, and as many TCP segments for RabbitMQ to read.

:class:`CoalescingConnection` keeps what pika emits during one turn of the loop (the frames
read and the callbacks run in it) and gives it to the transport as one buffer at the end
of that turn (a ``call_later(0)`` timer: no system call to schedule it). The bytes and their
order are pika's own; only the number of writes changes. It overrides the one method pika
names for adapters to override (``Connection._adapter_emit_data``).
"""

from __future__ import annotations

from pika.adapters.select_connection import SelectConnection


class CoalescingConnection(SelectConnection):
    def __init__(self, *args, **kwargs) -> None:
        self._outgoing: list[bytes] = []
        super().__init__(*args, **kwargs)

    def _adapter_emit_data(self, data: bytes) -> None:
        if not self._outgoing:
            self.ioloop.call_later(0, self._flush_outgoing)
        self._outgoing.append(data)

    def _flush_outgoing(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if outgoing and self._transport is not None:
            super()._adapter_emit_data(outgoing[0] if len(outgoing) == 1 else b"".join(outgoing))
