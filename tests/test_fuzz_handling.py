"""Property-based tests of the consumer's handling code on random and malformed input:
no crash, and every bad input is refused with the documented error.

- ``events.schemas.load_event``: returns an Event or raises InvalidEvent.
- planning (XML senders, admin broadcast, web error): returns a Plan, or BroadcastRefused
  for a broadcast that must not go out.
- ``senders.message.build``: returns ASCII bytes with CRLF line ends and the fixed set of
  headers, or raises UnsafeMail.

Example counts stay modest: the suite runs on two cores.
"""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.config import Properties
from events.schemas import Event, InvalidEvent, load_event
from senders.broadcast import BroadcastRefused, plan_broadcast
from senders.directory import parse_json_directory
from senders.mail import Mail
from senders.message import UnsafeMail, build
from senders.plan import Plan, plan
from senders.weberror import plan_web_error
from senders.xmlconfig import load_file

ROOT = Path(__file__).resolve().parent.parent
SENDERS = load_file(ROOT / "etc" / "mail-senders.example", Properties({"omero.mail.config": "true"}))
DIRECTORY = parse_json_directory({
    "groups": [{"id": 0, "name": "system"}, {"id": 1, "name": "user"}, {"id": 2, "name": "guest"}],
    "experimenters": [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
        {"id": 2, "omeName": "alice", "email": "alice@example.org\r\nBcc: x@evil.example", "groups": ["system"]},
        {"id": 4, "omeName": "carol", "email": "carol@example.org", "groups": ["user"]},
    ],
})
WEB_ADMINS = [("Root", "root@example.org"), ("Bad", "bad@@example.org")]
MAIL_FROM = "OMERO <omero@example.org>"
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

hostile_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=80) | st.sampled_from([
    "root\r\nBcc: x@evil.example", "\x00", "=?utf-8?b?AAAA?=", "." * 1200, "é" * 300, "--==omero-mail-", "",
])
json_scalar = st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False) | hostile_text
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(hostile_text, inner, max_size=3), max_leaves=8)
small_id = st.integers(min_value=0, max_value=5)

VALID_DATA = {
    "server.startup": st.fixed_dictionaries({}, optional={"server": hostile_text}),
    "server.shutdown": st.fixed_dictionaries({}, optional={"server": hostile_text}),
    "login.failed": st.fixed_dictionaries({"user": hostile_text.filter(bool) | st.sampled_from(["root", "carol"])},
                                          optional={"remote_addr": hostile_text}),
    "object.created": st.fixed_dictionaries({
        "object_class": st.sampled_from(["Experimenter", "ome.model.meta.ExperimenterGroup",
                                         "ome.model.annotations.CommentAnnotation"]) | hostile_text.filter(bool),
        "object_id": small_id}, optional={"actor_id": small_id, "name": hostile_text}),
    "comment.added": st.fixed_dictionaries({"comment_id": small_id, "image_id": small_id,
                                            "image_owner_id": small_id, "commenter_id": small_id},
                                           optional={"text": hostile_text, "image_name": hostile_text}),
    "admin.broadcast": st.fixed_dictionaries({"subject": hostile_text, "body": hostile_text}, optional={
        "html": hostile_text, "everyone": st.booleans(), "user_names": st.lists(hostile_text, max_size=3),
        "group_names": st.lists(st.sampled_from(["system", "user", "nope"]), max_size=2),
        "user_ids": st.lists(small_id, max_size=3), "cc": st.lists(hostile_text, max_size=2),
        "bcc": st.lists(hostile_text | st.just("carol@example.org"), max_size=2),
        "requested_by": st.sampled_from(["root", "carol", "nobody"]) | hostile_text}),
    "web.error": st.fixed_dictionaries({"status": st.sampled_from([404, 500]), "method": hostile_text,
                                        "path": hostile_text}, optional={
        "url": hostile_text, "referer": hostile_text, "remote_addr": hostile_text,
        "exception": hostile_text, "traceback": hostile_text}),
}


def envelope(kind, data, **extra) -> dict:
    return {"id": "2b0e5d1c-8e5e-4fad-8c22-3c58af2a1e87", "type": kind,
            "occurred_at": "2026-11-23T10:00:00+00:00", "source": "fuzz", "data": data, **extra}


valid_events = st.sampled_from(sorted(VALID_DATA)).flatmap(
    lambda kind: VALID_DATA[kind].map(lambda data: envelope(kind, data)))
mangled_envelopes = st.fixed_dictionaries({}, optional={
    "id": json_value | st.uuids().map(str), "type": json_value | st.sampled_from(sorted(VALID_DATA)),
    "occurred_at": json_value | st.just("2026-11-23T10:00:00"), "source": json_value, "data": json_value,
    "extra": json_value})


def plan_any(event: Event) -> Plan:
    """What the rules stage plans for an event (its planners, then the XML senders)."""
    if event.type == "admin.broadcast":
        return plan_broadcast(event, DIRECTORY, MAIL_FROM)
    if event.type == "web.error":
        return plan_web_error(event, WEB_ADMINS, "[OMERO.web - admin notification]", MAIL_FROM)
    return plan(event, SENDERS, DIRECTORY, MAIL_FROM)


def assert_loads_or_is_invalid(payload) -> None:
    try:
        event = load_event(payload)
    except InvalidEvent as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(event, Event)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_load_as_an_event_or_raise_invalid_event(body):
    assert_loads_or_is_invalid(body)


@FUZZ
@given(json_value)
def test_any_json_value_loads_as_an_event_or_raises_invalid_event(value):
    assert_loads_or_is_invalid(json.dumps(value).encode())


@FUZZ
@given(mangled_envelopes)
def test_a_mangled_envelope_loads_or_raises_invalid_event(value):
    assert_loads_or_is_invalid(json.dumps(value).encode())


@FUZZ
@given(st.sampled_from(sorted(VALID_DATA)), st.dictionaries(hostile_text, json_value, max_size=5))
def test_random_data_for_each_event_type_loads_or_raises_invalid_event(kind, data):
    assert_loads_or_is_invalid(envelope(kind, data))


def assert_safe_message(data: bytes, mail: Mail) -> None:
    assert data.isascii()
    assert b"\r" not in data.replace(b"\r\n", b"") and b"\n" not in data.replace(b"\r\n", b"")
    head = data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    message = message_from_bytes(data, policy=policy.compat32)
    names = [name.lower() for name in message.keys()]
    assert "bcc" not in names and names.count("to") == 1 and names.count("subject") == 1
    assert message["To"] == mail.to


@FUZZ
@given(valid_events)
def test_every_valid_event_plans_to_mails_that_build_safely_or_is_refused(payload):
    event = load_event(payload)
    try:
        result = plan_any(event)
    except BroadcastRefused as exc:
        assert str(exc)
        return
    for mail in result.mails:
        try:
            data = build(mail, date="Mon, 23 Nov 2026 10:00:00 +0000")
        except UnsafeMail as exc:
            assert str(exc)
            continue
        assert_safe_message(data, mail)


mails = st.builds(
    Mail, message_id=st.just("<m@example.org>") | hostile_text, event_id=hostile_text, event_type=hostile_text,
    sender=hostile_text, mail_from=st.sampled_from([MAIL_FROM, "omero@example.org"]) | hostile_text,
    to=st.sampled_from(["root@example.org"]) | hostile_text, subject=hostile_text, text=hostile_text,
    html=st.none() | hostile_text, cc=st.lists(hostile_text | st.just("carol@example.org"), max_size=2).map(tuple),
    bcc=st.lists(hostile_text, max_size=2).map(tuple),
    headers=st.dictionaries(st.sampled_from(["X-OMERO-User", "Bcc", "X-Bad Name"]) | hostile_text, hostile_text,
                            max_size=2))


@FUZZ
@given(mails)
def test_build_returns_a_safe_message_or_raises_unsafe_mail(mail):
    try:
        data = build(mail, date="Mon, 23 Nov 2026 10:00:00 +0000")
    except UnsafeMail as exc:
        assert str(exc)
        return
    assert_safe_message(data, mail)
