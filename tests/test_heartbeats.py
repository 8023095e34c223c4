"""A slow SMTP server does not starve the broker connection of heartbeats."""

from __future__ import annotations

import asyncio
import threading

from consumer.sink import Received

from .conftest import SMTPServer
from .services import free_port


class VerySlowHandler:
    def __init__(self):
        self.received = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(5)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def test_the_connection_survives_an_smtp_send_much_longer_than_the_heartbeat(make_service, publish):
    server = SMTPServer(port=free_port(), handler=VerySlowHandler()).start()
    try:
        running = make_service(omero__mail__port=str(server.port), omero__mail__broker__heartbeat="1",
                               omero__mail__smtp__timeout="30000", omero__mail__delivery__connections="1")
        publish("server.startup")
        server.wait_for_messages(2, timeout=30)
        assert running.service.consumer.reconnects == 0
        assert running.service.consumer.connected.is_set()
    finally:
        server.stop()
