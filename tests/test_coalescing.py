"""events/broker/coalescing.py: what one turn of the I/O loop emits reaches the socket as one write."""

from __future__ import annotations

import pika
from pika.adapters.select_connection import IOLoop

from events.broker.coalescing import MOST, CoalescingConnection

from .conftest import take_all


def run_connection(url: str, on_channel) -> tuple[list[int], object]:
    """Open a CoalescingConnection on ``url``, give ``on_channel(connection, channel, done)``
    an open channel, and run the loop until ``done()``; the sizes of the transport's writes."""
    loop = IOLoop()
    writes: list[int] = []
    state: dict = {}

    def done() -> None:
        state["connection"].close()

    def on_open(connection) -> None:
        state["connection"] = connection
        write = connection._transport.write

        def counted(data: bytes) -> None:
            writes.append(len(data))
            write(data)

        connection._transport.write = counted
        connection.channel(on_open_callback=lambda channel: on_channel(connection, channel, done, writes))

    connection = CoalescingConnection(pika.URLParameters(url), on_open_callback=on_open,
                                      on_open_error_callback=lambda _c, exc: loop.stop(),
                                      on_close_callback=lambda _c, _reason: loop.stop(), custom_ioloop=loop)
    loop.call_later(20, loop.stop)
    loop.start()
    return writes, connection


def test_publishes_of_one_turn_are_one_write_and_all_arrive(amqp_url):
    confirmed: list[int] = []

    def on_channel(_connection, channel, done, writes) -> None:
        def declared(_frame) -> None:
            writes.clear()
            for number in range(50):
                channel.basic_publish("", "coalesced", str(number).encode())
            channel.basic_publish("", "coalesced", b"last")
            assert writes == []  # nothing written yet: the turn is not over
            channel.basic_qos(prefetch_count=1, callback=lambda _frame: (confirmed.append(len(writes)), done()))

        channel.queue_declare("coalesced", durable=True, callback=declared)

    run_connection(amqp_url, on_channel)
    assert confirmed == [1]
    bodies = [body for _props, body in take_all(amqp_url, "coalesced")]
    assert bodies == [str(number).encode() for number in range(50)] + [b"last"]


def test_a_publish_in_a_later_turn_is_one_write_of_its_own(amqp_url):
    counts: list[int] = []

    def on_channel(connection, channel, done, writes) -> None:
        def second() -> None:
            counts.append(len(writes))
            channel.basic_publish("", "turns", b"second")
            connection.ioloop.call_later(0.05, lambda: (counts.append(len(writes)), done()))

        def declared(_frame) -> None:
            writes.clear()
            channel.basic_publish("", "turns", b"first")  # three frames: method, properties, body
            connection.ioloop.call_later(0.05, second)

        channel.queue_declare("turns", durable=True, callback=declared)

    run_connection(amqp_url, on_channel)
    assert counts == [1, 2]
    assert [body for _props, body in take_all(amqp_url, "turns")] == [b"first", b"second"]


def test_a_large_turn_is_written_in_pieces_of_bounded_size(amqp_url):
    def on_channel(_connection, channel, done, writes) -> None:
        def declared(_frame) -> None:
            writes.clear()
            for number in range(40):
                channel.basic_publish("", "large", bytes([number]) * 50_000)  # 2 MB in one turn
            channel.basic_qos(prefetch_count=1, callback=lambda _frame: done())

        channel.queue_declare("large", durable=True, callback=declared)

    writes, _connection = run_connection(amqp_url, on_channel)
    assert len(writes) >= 2_000_000 // (MOST + 60_000)
    assert max(writes) < MOST + 60_000
    bodies = [body for _props, body in take_all(amqp_url, "large")]
    assert bodies == [bytes([number]) * 50_000 for number in range(40)]
