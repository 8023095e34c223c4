"""An outbox message's body: a Mail as JSON, the same whichever way it is written."""

import json
from dataclasses import asdict

from senders.mail import Mail

MAIL = Mail(message_id="<abc@example.org>", event_id="e1", event_type="admin.broadcast", sender="broadcast",
            mail_from="OMERO <omero@example.org>", to="Jane Doe <jane@example.org>", subject="Maintenance",
            text="OMERO stops at 22:00.", html="<p>OMERO stops.</p>", cc=("cc@example.org",),
            bcc=("b1@example.org", "b2@example.org"), headers={"X-OMERO-Event": "e1"})


def test_a_mail_is_written_with_every_field_in_order_as_dataclasses_would():
    assert MAIL.to_json() == json.dumps(asdict(MAIL), ensure_ascii=False, separators=(",", ":")).encode()


def test_a_mail_read_back_from_its_json_is_the_same_mail():
    assert Mail.from_json(MAIL.to_json()) == MAIL


def test_a_mail_keeps_text_beyond_ascii_as_utf8():
    mail = Mail("<m@example.org>", "e2", "comment.added", "s", "omero@example.org", "jo@example.org",
                "Über", "Grüße")
    assert "Grüße".encode() in mail.to_json()
    assert Mail.from_json(mail.to_json()).text == "Grüße"


def test_the_envelope_sender_is_the_address_of_a_named_from():
    assert MAIL.mail_from_address == "omero@example.org"
