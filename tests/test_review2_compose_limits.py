"""Review: what a broadcast from the Email page may carry, and what reaches the SMTP server.

Found by review: the Cc header was one line however many addresses it named, so a broadcast
with some forty Cc addresses made a header line longer than SMTP allows (998 characters,
RFC 5322 2.1.1), which a server keeping the limit refuses for good (aiosmtpd: ``500 Line too
long``): the Cc copy was parked instead of sent. Now To and Cc are folded between addresses.

What held: a subject with CR/LF stays one Subject header and names no recipient; a message
beyond Django's 2.5 MB of form is refused (400) and queues nothing.
"""

from __future__ import annotations

import email
import email.policy

from events import topology as topo
from events.broker import queue_depths

from .test_web_compose import compose, people, site  # noqa: F401  (fixtures)
from .webapp import Client

#: Enough Cc addresses to pass 998 characters on one line.
MANY_CC = 60


def test_a_broadcast_with_sixty_cc_addresses_is_one_copy_whose_lines_smtp_accepts(
        site, props, make_service, people, smtp_server):  # noqa: F811
    client = Client(site)
    client.login()
    cc = [f"colleague{n}@example.org" for n in range(MANY_CC)]
    assert compose(client, groups=["3"], cc=", ".join(cc))[0] == 302
    make_service(omero__mail__directory__file=str(people))
    smtp_server.wait_for_messages(2, timeout=30)
    copy = next(received for received in smtp_server.received if "colleague0@example.org" in received.rcpt_tos)
    assert sorted(copy.rcpt_tos) == sorted(cc)
    assert max(len(line) for line in copy.data.split(b"\r\n")) <= 998
    parsed = email.message_from_bytes(copy.data, policy=email.policy.default)
    assert [a.addr_spec for a in parsed["Cc"].addresses] == cc[1:]


def test_a_subject_with_cr_lf_stays_one_subject_and_adds_no_recipient(
        site, props, make_service, people, smtp_server):  # noqa: F811
    client = Client(site)
    client.login()
    assert compose(client, groups=["3"], subject="Hi\r\nBcc: eve@example.org\r\n\r\nforged body")[0] == 302
    make_service(omero__mail__directory__file=str(people))
    [message] = smtp_server.wait_for_messages(1, timeout=30)
    assert [r for received in smtp_server.received for r in received.rcpt_tos] == ["carol@example.org"]
    assert message["Subject"] == "Hi Bcc: eve@example.org forged body"
    assert message["Bcc"] is None


def test_a_message_beyond_djangos_form_limit_is_refused_and_queues_nothing(site, props):  # noqa: F811
    client = Client(site)
    client.login()
    status, _, _ = compose(client, groups=["3"], message="x" * 3_000_000)
    assert status == 400
    assert queue_depths(props["omero.mail.broker.url"], [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 0
