"""omero.mail.bean chooses how mail leaves: SMTP, a Maildir, the console, or a site's own class."""

from __future__ import annotations

import mailbox

import pytest

from consumer import outcomes
from events.config import Properties
from events.settings import read_settings
from senders.transports import (Envelope, PermanentError, Transport, TransportConfigError, make_transport,
                                transport_class)
from senders.transports.console import ConsoleTransport
from senders.transports.maildir import MaildirTransport
from senders.transports.smtp import SMTPTransport

from .conftest import wait_for
from .faults import outbox_mail, parked, publish_mails

MESSAGE = b"From: omero@example.org\r\nTo: root@example.org\r\nSubject: hello\r\n\r\nbody\r\n"


class RecordingTransport(Transport):
    """A site's own transport, in a few lines, as README promises."""

    sent: list = []

    def send(self, envelope):
        self.sent.append(envelope)
        return {}


class CampusOnlyTransport(Transport):
    """A site's own transport that refuses recipients outside its domain, as SMTP would."""

    delivered: list = []

    def send(self, envelope):
        refused = {r: "550 5.7.1 not a campus address" for r in envelope.recipients if not r.endswith("@example.org")}
        accepted = [r for r in envelope.recipients if r not in refused]
        if not accepted:
            raise PermanentError("no campus recipient", refused)
        self.delivered.extend(accepted)
        return refused


@pytest.mark.parametrize("bean", ["defaultMailSender", "smtp", ""])
def test_omeros_default_bean_and_smtp_mean_the_smtp_transport(bean):
    assert transport_class(bean) is SMTPTransport


def test_maildir_and_console_are_registered_entry_points():
    assert transport_class("maildir") is MaildirTransport
    assert transport_class("console") is ConsoleTransport


def test_a_module_colon_class_bean_loads_a_sites_own_transport():
    site = Properties({"omero.mail.bean": "tests.test_transports:RecordingTransport"})
    transport = make_transport(read_settings(site))
    transport.send(Envelope("omero@example.org", ["root@example.org"], MESSAGE))
    assert isinstance(transport, RecordingTransport) and len(RecordingTransport.sent) == 1


def test_an_unknown_bean_is_a_clear_error_listing_the_known_ones():
    with pytest.raises(TransportConfigError, match=r"no such transport \(known: console, maildir, smtp"):
        transport_class("myMailImplementation")


def test_a_bean_that_is_not_a_transport_is_refused():
    with pytest.raises(TransportConfigError, match="is not a Transport"):
        transport_class("json:dumps")


def test_the_maildir_transport_files_each_message(tmp_path):
    site = Properties({"omero.mail.bean": "maildir", "omero.mail.maildir.path": str(tmp_path / "mail")})
    transport = make_transport(read_settings(site))
    transport.send(Envelope("omero@example.org", ["root@example.org"], MESSAGE))
    box = mailbox.Maildir(tmp_path / "mail", create=False)
    assert [m["Subject"] for m in box] == ["hello"]


def test_the_console_transport_prints_the_message(capsys):
    make_transport(read_settings(Properties({"omero.mail.bean": "console"}))).send(
        Envelope("omero@example.org", ["root@example.org"], MESSAGE))
    out = capsys.readouterr().out
    assert "mail to root@example.org" in out and "Subject: hello" in out


def test_the_consumer_delivers_through_the_configured_bean(make_service, publish, tmp_path):
    make_service(omero__mail__bean="maildir", omero__mail__maildir__path=str(tmp_path / "mail"))
    publish("server.startup")
    box = wait_for(lambda: len(list(mailbox.Maildir(tmp_path / "mail", create=True))) == 2 or None,
                   what="two mails in the Maildir")
    assert box


def test_a_recipient_refused_by_a_sites_own_transport_is_parked_alone_and_the_others_get_the_mail(make_service, props):
    CampusOnlyTransport.delivered.clear()
    make_service(omero__mail__bean=f"{__name__}:CampusOnlyTransport")
    url = props["omero.mail.broker.url"]
    [mail] = publish_mails(url, [outbox_mail("root@example.org", cc=("alice@example.org", "bob@elsewhere.org"))])
    wait_for(lambda: parked(url), what="the refused recipient parked")
    [copy] = parked(url)
    assert sorted(CampusOnlyTransport.delivered) == ["alice@example.org", "root@example.org"]
    assert copy.message_id == mail.message_id
    assert list(copy.headers[outcomes.RECIPIENTS]) == ["bob@elsewhere.org"]
    assert "550 5.7.1 not a campus address" in copy.headers[outcomes.REASON]
