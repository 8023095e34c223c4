"""Reading a RabbitMQ stream up to "now": a marker appended, then everything before it read.

A stream is a log that consumers read without taking anything off it, from an offset or
a point in time. The rules stage keeps its memory in one (``consumer/memory/state.py``) and
catches up with it when it becomes active. "Up to now" is made exact by a marker: it
appends a record of its own, confirmed, and reads until it meets that record, so
whatever was confirmed into the stream before the call is read, on any node of a cluster.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Callable

import pika
import pika.exceptions

from .confirms import properties
from .connection import describe, parameters, redacted
from .errors import BrokerError

#: Header of a marker record; other readers skip it.
MARKER = "x-omero-mail-marker"
#: Records fetched ahead of the reader; RabbitMQ requires a prefetch on a stream.
PREFETCH = 1000


def catch_up(url: str, stream: str, start: int | datetime, on_record: Callable[[int, bytes], None], *,
             timeout: float = 30.0, name: str = "omero-mail state") -> int:
    """Call ``on_record(offset, body)`` for each record from ``start`` to now; the next offset.

    ``start`` is an offset, or a time (RabbitMQ starts at the chunk holding it, so a few
    earlier records may come too). BrokerError when the stream cannot be read in ``timeout``.
    """
    token = uuid.uuid4().hex
    try:
        connection = pika.BlockingConnection(parameters(url, name=name))
    except (pika.exceptions.AMQPError, OSError) as exc:
        raise BrokerError(f"cannot connect to RabbitMQ at {redacted(url)}: {describe(exc)}") from None
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", stream, b"", properties(message_id=token, headers={MARKER: token}), mandatory=True)
        channel.basic_qos(prefetch_count=PREFETCH)
        read = 0
        for method, props, body in channel.consume(stream, arguments={"x-stream-offset": start},
                                                   inactivity_timeout=timeout):
            if method is None:
                raise BrokerError(f"stream {stream}: its end was not reached within {timeout:g}s")
            headers = props.headers or {}
            offset = int(headers.get("x-stream-offset", 0))
            read += 1
            if headers.get(MARKER) == token:
                channel.basic_ack(method.delivery_tag, multiple=True)
                return offset + 1
            if MARKER not in headers:
                on_record(offset, body)
            if read % (PREFETCH // 2) == 0:
                channel.basic_ack(method.delivery_tag, multiple=True)
        raise BrokerError(f"stream {stream}: the consumer was cancelled")
    except (pika.exceptions.AMQPError, pika.exceptions.NackError, pika.exceptions.UnroutableError) as exc:
        raise BrokerError(f"cannot read stream {stream}: {describe(exc)}") from None
    finally:
        if connection.is_open:
            connection.close()
