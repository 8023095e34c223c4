"""senders/message.py: hostile text never makes a header, a recipient or a body part."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from senders.mail import Mail
from senders.message import UnsafeMail, build, is_valid_address

INJECTIONS = [
    "root\r\nBcc: victim@evil.example",
    "root\nBcc: victim@evil.example",
    "root\rBcc: victim@evil.example",
    "root\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<script>",
    "root\x00\x0bBcc: victim@evil.example",
    "root\u2028Bcc: victim@evil.example",
    "root\x85Bcc: victim@evil.example",
]


def mail(**fields) -> Mail:
    values = dict(message_id="<abc@example.org>", event_id="e1", event_type="login.failed",
                  sender="failedLoginMailSender", mail_from="OMERO <omero@example.org>", to="root@example.org",
                  subject="[OMERO] Login failed for 'root'", text="Automated email sent by the OMERO server.\n")
    values.update(fields)
    return Mail(**values)


def parse(data: bytes):
    return message_from_bytes(data, policy=policy.default)


def header_names(data: bytes) -> list[str]:
    return [name.lower() for name in parse(data).keys()]


def assert_no_bare_line_breaks(data: bytes) -> None:
    assert b"\r" not in data.replace(b"\r\n", b"") and b"\n" not in data.replace(b"\r\n", b"")


@pytest.mark.parametrize("evil", INJECTIONS)
def test_a_line_break_in_the_subject_makes_no_header(evil):
    data = build(mail(subject=f"[OMERO] Login failed for '{evil}'"))
    assert header_names(data) == ["from", "to", "subject", "date", "message-id", "mime-version",
                                  "content-type", "content-transfer-encoding"]
    assert "Bcc" not in parse(data)
    assert_no_bare_line_breaks(data)


@pytest.mark.parametrize("evil", ["OMERO\r\nServer", "OMERO\nBcc", "OMERO\x00\u2028Server"])
def test_a_line_break_in_the_display_name_makes_no_header(evil):
    data = build(mail(mail_from=f"{evil} <omero@example.org>"))
    assert "bcc" not in header_names(data) and parse(data)["From"].addresses[0].addr_spec == "omero@example.org"
    assert_no_bare_line_breaks(data)


@pytest.mark.parametrize("evil", INJECTIONS)
def test_a_display_name_hiding_another_address_is_refused(evil):
    with pytest.raises(UnsafeMail, match="ambiguous sender|invalid sender address"):
        build(mail(mail_from=f"{evil} <omero@example.org>"))


@pytest.mark.parametrize("evil", INJECTIONS)
def test_a_line_break_in_an_extra_header_value_makes_no_header(evil):
    data = build(mail(headers={"X-OMERO-User": evil}))
    assert header_names(data).count("bcc") == 0 and "X-OMERO-User" in parse(data)
    assert_no_bare_line_breaks(data)


@pytest.mark.parametrize("address", [
    "root@example.org\n", "root@example.org\r\nBcc: x@evil.example", "root@example.org, x@evil.example",
    "Root <root@example.org>", "root@example.org>\r\nRCPT TO:<x@evil.example", "röot@example.org",
    "root@exämple.org", "root", "@example.org", "root@", "root@@example.org", "root@-example.org",
    "a" * 250 + "@example.org", "", " root@example.org",
])
def test_an_address_that_is_not_a_plain_ascii_addr_spec_is_invalid(address):
    assert not is_valid_address(address)


@pytest.mark.parametrize("field", ["to", "cc", "bcc"])
def test_an_invalid_recipient_refuses_the_mail(field):
    value = "root@example.org\r\nBcc: x@evil.example"
    with pytest.raises(UnsafeMail, match="invalid recipient address"):
        build(mail(**{field: value if field == "to" else (value,)}))


def test_an_invalid_sender_address_refuses_the_mail():
    with pytest.raises(UnsafeMail, match="invalid sender address"):
        build(mail(mail_from="omero@example.org\r\nBcc: x@evil.example"))


@pytest.mark.parametrize("name", ["Bcc", "X-Evil\r\nBcc", "X Evil", "X:Evil", "", "Content-Type"])
def test_an_unsafe_or_reserved_extra_header_name_refuses_the_mail(name):
    with pytest.raises(UnsafeMail, match="refusing header name"):
        build(mail(headers={name: "x"}))


def test_a_message_id_with_a_line_break_refuses_the_mail():
    with pytest.raises(UnsafeMail, match="invalid Message-ID"):
        build(mail(message_id="<abc@example.org>\r\nBcc: x@evil.example"))


def test_bcc_addresses_are_never_written_in_a_header():
    data = build(mail(bcc=("hidden@example.org",)))
    assert b"hidden@example.org" not in data


def test_a_non_ascii_subject_is_encoded_by_rfc_2047_and_decodes_back():
    subject = "[OMERO] Login failed for 'Jürgen Müller 日本'"
    data = build(mail(subject=subject))
    assert data.isascii() and b"=?utf-8?" in data
    assert parse(data)["Subject"] == subject


def test_a_non_ascii_display_name_is_encoded_and_decodes_back():
    data = build(mail(mail_from="Zoë Ångström <omero@example.org>"))
    assert data.isascii()
    assert parse(data)["From"].addresses[0].display_name == "Zoë Ångström"


def test_a_display_name_with_specials_is_quoted_so_it_adds_no_address():
    data = build(mail(mail_from='"Doe, Jane (OMERO)" <omero@example.org>'))
    assert [a.addr_spec for a in parse(data)["From"].addresses] == ["omero@example.org"]


def test_a_subject_of_one_long_word_is_folded_under_the_line_limit():
    data = build(mail(subject="x" * 5000))
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert parse(data)["Subject"] == "x" * 5000


def test_a_body_line_like_the_boundary_does_not_split_the_body():
    text = "hello\n"
    plain = build(mail(text=text, html="<p>x</p>"))
    boundary = parse(plain).get_boundary()
    data = build(mail(text=text, html=f"<p>x</p>\n--{boundary}\nContent-Type: text/plain\n\nforged\n"))
    parts = list(parse(data).iter_parts())
    assert len(parts) == 2 and "forged" in parts[1].get_content() and parse(data).get_boundary() != boundary


def test_control_characters_in_the_body_are_quoted_printable():
    data = build(mail(text="a\x00b\x1bc\n"))
    assert b"\x00" not in data and b"\x1b" not in data
    assert parse(data).get_content().replace("\r\n", "\n") == "a\x00b\x1bc\n"


def test_a_lone_dot_line_in_the_body_survives_as_text():
    data = build(mail(text="one\n.\ntwo\n"))
    assert parse(data).get_content().replace("\r\n", "\n") == "one\n.\ntwo\n"


def test_ascii_text_is_labelled_us_ascii_and_other_text_utf_8():
    """JavaMail MimeBodyPart.setText: all-ASCII text -> charset us-ascii, else the default MIME charset."""
    assert b"Content-Type: text/plain; charset=us-ascii\r\n" in build(mail(text="plain\n"))
    assert b'Content-Type: text/plain; charset="utf-8"\r\n' in build(mail(text="d\u00e9j\u00e0\n"))
