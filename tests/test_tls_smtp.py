"""TLS to the SMTP server: certificates and host names are verified unless turned off.

Each test runs a real aiosmtpd server with a certificate signed by a CA the test makes
(tests/tls.py), and sends through the real SMTP transport.
"""

from __future__ import annotations

import logging

import pytest

from events.config import Properties
from events.settings import smtp_settings
from consumer.admin.sink import Sink
from senders.transports import Envelope, TransientError
from senders.transports.smtp import SMTPTransport

from .services import free_port
from .tls import TestCA

MESSAGE = b"From: omero@example.org\r\nTo: root@example.org\r\nSubject: tls\r\n\r\nhello\r\n"


@pytest.fixture
def ca(tmp_path) -> TestCA:
    return TestCA(tmp_path)


def smtp_props(port: int, ca: TestCA, **extra: str) -> Properties:
    return Properties({"omero.mail.host": "localhost", "omero.mail.port": str(port),
                       "omero.mail.smtp.ssl.cafile": str(ca.cafile),
                       "omero.mail.smtp.connectiontimeout": "5000", "omero.mail.smtp.timeout": "5000", **extra})


def send_one(props: Properties) -> None:
    transport = SMTPTransport(smtp_settings(props))
    try:
        transport.send(Envelope("omero@example.org", ["root@example.org"], MESSAGE))
    finally:
        transport.close()


@pytest.fixture
def starttls_server(ca):
    """A server that requires STARTTLS, with a certificate for localhost."""
    context = ca.issue("localhost", "127.0.0.1").server_context()
    with Sink(host="localhost", port=free_port(), tls_context=context, require_starttls=True) as server:
        yield server


@pytest.fixture
def wrong_name_server(ca):
    """A server that requires STARTTLS, with a good CA's certificate for another host."""
    context = ca.issue("mail.example.org", file_stem="other").server_context()
    with Sink(host="localhost", port=free_port(), tls_context=context, require_starttls=True) as server:
        yield server


def test_starttls_to_a_server_with_a_certificate_from_the_trusted_ca_delivers(starttls_server, ca):
    send_one(smtp_props(starttls_server.port, ca, **{"omero.mail.smtp.starttls.enable": "true"}))
    assert [r.rcpt_tos for r in starttls_server.handler.received] == [["root@example.org"]]


def test_starttls_to_a_server_whose_certificate_names_another_host_is_refused(wrong_name_server, ca):
    with pytest.raises(TransientError, match="TLS with SMTP server localhost:.* failed"):
        send_one(smtp_props(wrong_name_server.port, ca, **{"omero.mail.smtp.starttls.enable": "true"}))
    assert wrong_name_server.handler.received == []


def test_starttls_to_a_server_signed_by_an_unknown_ca_is_refused(starttls_server, tmp_path):
    (tmp_path / "stranger").mkdir()
    stranger = TestCA(tmp_path / "stranger", name="a CA nobody trusts")
    with pytest.raises(TransientError, match="CERTIFICATE_VERIFY_FAILED"):
        send_one(smtp_props(starttls_server.port, stranger, **{"omero.mail.smtp.starttls.enable": "true"}))
    assert starttls_server.handler.received == []


def test_a_server_that_does_not_offer_starttls_when_it_is_required_is_refused(ca):
    with Sink(host="localhost", port=free_port()) as plain:
        with pytest.raises(TransientError, match="does not offer STARTTLS"):
            send_one(smtp_props(plain.port, ca, **{"omero.mail.smtp.starttls.enable": "true"}))
        assert plain.handler.received == []


def test_implicit_tls_with_smtps_delivers(ca):
    context = ca.issue("localhost", "127.0.0.1").server_context()
    with Sink(host="localhost", port=free_port(), ssl_context=context) as server:
        send_one(smtp_props(server.port, ca, **{"omero.mail.transport.protocol": "smtps"}))
        assert len(server.handler.received) == 1


def test_implicit_tls_with_omeros_ssl_socket_factory_delivers(ca):
    context = ca.issue("localhost", "127.0.0.1").server_context()
    with Sink(host="localhost", port=free_port(), ssl_context=context) as server:
        send_one(smtp_props(0, ca, **{"omero.mail.smtp.socketFactory.class": "javax.net.ssl.SSLSocketFactory",
                                      "omero.mail.smtp.socketFactory.port": str(server.port)}))
        assert len(server.handler.received) == 1


def test_implicit_tls_to_a_server_whose_certificate_names_another_host_is_refused(ca):
    context = ca.issue("mail.example.org", file_stem="other").server_context()
    with Sink(host="localhost", port=free_port(), ssl_context=context) as server:
        with pytest.raises(TransientError, match="failed"):
            send_one(smtp_props(server.port, ca, **{"omero.mail.transport.protocol": "smtps"}))
        assert server.handler.received == []


def test_with_verification_turned_off_a_wrong_host_name_is_accepted(wrong_name_server, ca):
    send_one(smtp_props(wrong_name_server.port, ca, **{"omero.mail.smtp.starttls.enable": "true",
                                                       "omero.mail.smtp.ssl.verify": "false"}))
    assert len(wrong_name_server.handler.received) == 1


def test_the_consumer_warns_at_start_when_tls_verification_is_off(make_service, caplog):
    caplog.set_level(logging.WARNING)
    make_service(omero__mail__smtp__ssl__verify="false")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("omero.mail.smtp.ssl.verify is false" in w for w in warnings)


def test_the_consumer_does_not_warn_about_tls_when_verification_is_on(make_service, caplog):
    caplog.set_level(logging.WARNING)
    make_service()
    assert not any("ssl.verify" in r.getMessage() for r in caplog.records)
