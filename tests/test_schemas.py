"""The event contract: what loads, and the one-line reason for what does not."""

from __future__ import annotations

import json

import pytest

from events.schemas import EVENT_TYPES, InvalidEvent, load_event, new_event

VALID_DATA = {
    "server.startup": {"server": "omero-1"},
    "server.shutdown": {},
    "login.failed": {"user": "root", "remote_addr": "192.0.2.7"},
    "object.created": {"object_class": "ome.model.meta.Experimenter", "object_id": 52},
    "object.updated": {"object_class": "ome.model.core.Image", "object_id": 7, "actor_id": 2},
    "object.deleted": {"object_class": "ome.model.containers.Dataset", "object_id": 9},
    "comment.added": {"comment_id": 1, "image_id": 2, "image_owner_id": 3, "commenter_id": 4},
    "admin.broadcast": {"subject": "Maintenance", "body": "Down at 6pm."},
    "web.error": {"status": 500, "method": "GET", "path": "/webclient/"},
}


def envelope(**changes):
    base = {"id": "2b0e5d1c-8e5e-4fad-8c22-3c58af2a1e87", "type": "login.failed",
            "occurred_at": "2026-11-23T10:00:00+00:00", "source": "omero@host", "data": {"user": "root"}}
    base.update(changes)
    return json.dumps(base).encode()


def test_the_nine_event_types_of_the_contract():
    assert set(EVENT_TYPES) == set(VALID_DATA)


@pytest.mark.parametrize("kind", sorted(VALID_DATA))
def test_each_type_loads_with_its_required_data(kind):
    event = new_event(kind, VALID_DATA[kind])
    assert load_event(event.to_json()) == event


@pytest.mark.parametrize("kind,missing", [
    ("login.failed", "user"), ("object.created", "object_id"), ("comment.added", "image_owner_id"),
    ("admin.broadcast", "subject"), ("web.error", "path"),
])
def test_missing_required_data_names_the_field(kind, missing):
    data = {k: v for k, v in VALID_DATA[kind].items() if k != missing}
    with pytest.raises(InvalidEvent, match=rf"data\.{missing}: Missing data"):
        load_event(envelope(type=kind, data=data))


def test_extra_fields_are_kept():
    event = load_event(envelope(data={"user": "root", "client": "insight"}, trace_id="t-1"))
    assert event.data["client"] == "insight"
    assert json.loads(event.to_json())["trace_id"] == "t-1"


def test_an_unknown_type_is_invalid():
    with pytest.raises(InvalidEvent, match="unknown event type 'image.deleted'"):
        load_event(envelope(type="image.deleted"))


def test_a_naive_timestamp_is_invalid():
    with pytest.raises(InvalidEvent, match="occurred_at"):
        load_event(envelope(occurred_at="2026-11-23T10:00:00"))


def test_a_body_that_is_not_json_is_invalid_with_where():
    with pytest.raises(InvalidEvent, match="not JSON: .* line 1 column"):
        load_event(b"{nope")


def test_a_body_that_is_not_utf8_is_invalid():
    with pytest.raises(InvalidEvent, match="not UTF-8"):
        load_event(b"\xff\xfe")


def test_a_web_error_status_other_than_404_or_500_is_invalid():
    with pytest.raises(InvalidEvent, match="data.status"):
        load_event(envelope(type="web.error", data={"status": 418, "method": "GET", "path": "/"}))


def test_ids_must_be_integers_not_strings():
    with pytest.raises(InvalidEvent, match="data.object_id"):
        load_event(envelope(type="object.created", data={"object_class": "Experimenter", "object_id": "5"}))


def test_reasons_are_one_line():
    try:
        load_event(envelope(type="comment.added", data={}))
    except InvalidEvent as exc:
        assert "\n" not in str(exc)


def test_text_holding_a_lone_surrogate_is_invalid_with_where():
    body = envelope(type="web.error", data={"status": 404, "method": "GET", "path": "/x\ud800"})
    with pytest.raises(InvalidEvent, match=r"^data\.path: text a mail cannot carry \(lone UTF-16 surrogate"):
        load_event(body)


def test_a_lone_surrogate_in_a_field_name_or_a_list_is_invalid_too():
    with pytest.raises(InvalidEvent, match=r"^data\.x\\ud800 \(the name\): "):
        load_event(envelope(data={"user": "root", "x\ud800": 1}))
    with pytest.raises(InvalidEvent, match=r"^data\.cc\.1: "):
        load_event(envelope(type="admin.broadcast", data={"subject": "S", "body": "B", "cc": ["a@b.org", "\ud800"]}))


def test_a_surrogate_pair_is_one_character_and_loads():
    body = envelope(type="web.error", data={"status": 404, "method": "GET", "path": "/\U0001F600"})
    assert b"\\ud83d\\ude00" in body
    assert load_event(body).data["path"] == "/\U0001F600"


def test_an_event_made_here_with_a_lone_surrogate_is_refused_before_it_is_published():
    with pytest.raises(InvalidEvent, match="surrogate"):
        new_event("login.failed", {"user": "r\ud800"})
