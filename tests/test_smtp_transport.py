"""The SMTP transport honours OMERO's properties against a real aiosmtpd server."""

from __future__ import annotations

import socket
import ssl

import pytest
from aiosmtpd.smtp import AuthResult

from events.config import ConfigError, Properties
from events.settings import read_settings, smtp_settings
from senders.transports import Envelope, TransientError, make_transport
from senders.transports.smtp import SMTPTransport

from .conftest import SMTPServer
from .services import free_port
from .tls import TestCA

MESSAGE = b"From: omero@example.org\r\nTo: root@example.org\r\nSubject: t\r\n\r\nbody\r\n"


def envelope(to="root@example.org"):
    return Envelope("omero@example.org", [to], MESSAGE)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A certificate for 127.0.0.1 from a test CA the client is told to trust."""
    ca = TestCA(tmp_path_factory.mktemp("tls"))
    return ca.cafile, ca.issue("127.0.0.1")


def server_context(certificate) -> ssl.SSLContext:
    return certificate[1].server_context()


def authenticator(logins: list):
    def check(server, session, envelope, mechanism, auth_data):
        logins.append(auth_data.login)
        ok = auth_data.login == b"omero" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)
    return check


def props_for(port, **extra) -> Properties:
    return Properties({"omero.mail.host": "127.0.0.1", "omero.mail.port": str(port),
                       "omero.mail.smtp.connectiontimeout": "5000", "omero.mail.smtp.timeout": "5000", **extra})


def test_plain_smtp_delivers_and_reuses_one_connection(smtp_server):
    transport = SMTPTransport(smtp_settings(props_for(smtp_server.port)))
    with transport:
        for _ in range(3):
            transport.send(envelope())
    assert len(smtp_server.received) == 3
    assert transport.connections_opened == 1


def test_a_connection_dropped_by_the_server_is_reopened(smtp_server):
    transport = SMTPTransport(smtp_settings(props_for(smtp_server.port)))
    transport.send(envelope())
    transport._smtp.sock.shutdown(socket.SHUT_RDWR)  # as when the server drops an idle connection
    transport.send(envelope())
    assert len(smtp_server.received) == 2
    assert transport.connections_opened == 2


def test_starttls_and_auth_against_a_server_that_requires_both(certificate):
    logins: list = []
    server = SMTPServer(port=free_port(), tls_context=server_context(certificate), require_starttls=True,
                        auth_required=True, auth_require_tls=True, authenticator=authenticator(logins)).start()
    try:
        transport = make_transport(read_settings(props_for(
            server.port, **{"omero.mail.smtp.starttls.enable": "true", "omero.mail.smtp.auth": "true",
                            "omero.mail.username": "omero", "omero.mail.password": "s3cret",
                            "omero.mail.smtp.ssl.cafile": str(certificate[0])})))
        with transport:
            transport.send(envelope())
    finally:
        server.stop()
    assert logins == [b"omero"]
    assert len(server.received) == 1


def test_a_wrong_password_is_a_transient_error_that_does_not_show_the_password(certificate):
    server = SMTPServer(port=free_port(), tls_context=server_context(certificate), require_starttls=True,
                        auth_required=True, auth_require_tls=True, authenticator=authenticator([])).start()
    try:
        transport = make_transport(read_settings(props_for(
            server.port, **{"omero.mail.smtp.starttls.enable": "true", "omero.mail.smtp.auth": "true",
                            "omero.mail.username": "omero", "omero.mail.password": "wrong-pw",
                            "omero.mail.smtp.ssl.cafile": str(certificate[0])})))
        with pytest.raises(TransientError) as error:
            transport.send(envelope())
    finally:
        server.stop()
    assert "login" in str(error.value) and "wrong-pw" not in str(error.value)


def test_a_server_requiring_starttls_when_it_is_off_is_a_transient_error(certificate):
    server = SMTPServer(port=free_port(), tls_context=server_context(certificate), require_starttls=True).start()
    try:
        with pytest.raises(TransientError):
            make_transport(read_settings(props_for(server.port))).send(envelope())
    finally:
        server.stop()
    assert server.received == []


def test_connection_refused_is_transient():
    with pytest.raises(TransientError, match="cannot connect"):
        SMTPTransport(smtp_settings(props_for(free_port()))).send(envelope())


def test_a_username_without_smtp_auth_does_not_log_in(smtp_server):
    """JavaMail SMTPTransport.protocolConnect authenticates only when mail.smtp.auth is true."""
    transport = SMTPTransport(smtp_settings(props_for(smtp_server.port, **{"omero.mail.username": "omero",
                                                                           "omero.mail.password": "s3cret"})))
    with transport:
        transport.send(envelope())
    assert len(smtp_server.received) == 1


def test_socket_factory_fallback_is_refused_rather_than_ignored():
    with pytest.raises(ConfigError, match="socketFactory.fallback=true is refused"):
        smtp_settings(props_for(25, **{"omero.mail.smtp.socketFactory.fallback": "true"}))
