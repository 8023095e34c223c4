"""A slow SMTP server does not starve the broker connection of heartbeats."""

from __future__ import annotations

from .conftest import SMTPServer
from .faults import SlowHandler
from .services import free_port


def test_the_connection_survives_an_smtp_send_much_longer_than_the_heartbeat(make_service, publish):
    server = SMTPServer(port=free_port(), handler=SlowHandler(delay=5)).start()
    try:
        running = make_service(omero__mail__port=str(server.port), omero__mail__broker__heartbeat="1",
                               omero__mail__smtp__timeout="30000", omero__mail__delivery__connections="1")
        publish("server.startup")
        server.wait_for_messages(2, timeout=30)
        assert running.service.consumer.reconnects == 0
        assert running.service.consumer.connected.is_set()
    finally:
        server.stop()
