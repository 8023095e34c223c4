"""Templates over an event's fields: substitution only, nothing evaluated."""

from __future__ import annotations

import pytest

from events.schemas import new_event
from senders import templates


def test_a_field_is_replaced_by_its_value():
    assert templates.render("Login failed for '${user}'", {"user": "root"}) == "Login failed for 'root'"


def test_a_missing_optional_field_renders_empty():
    assert templates.render("from ${remote_addr}.", {}) == "from ."


def test_a_substituted_value_is_not_expanded_again():
    assert templates.render("${user}", {"user": "${event_id}", "event_id": "x"}) == "${event_id}"


@pytest.mark.parametrize("text", ["{user.__class__}", "${user.__class__}", "${user[0]}", "${user!r}", "${user:>99}"])
def test_anything_but_a_plain_field_name_is_left_as_written(text):
    assert templates.render(text, {"user": "root"}) == text


def test_event_fields_are_flat_strings_with_the_envelope():
    event = new_event("comment.added", {"comment_id": 1, "image_id": 2, "image_owner_id": 3, "commenter_id": 4,
                                        "text": None}, source="omero-1")
    fields = templates.event_fields(event)
    assert fields["comment_id"] == "1" and fields["text"] == "" and fields["source"] == "omero-1"
    assert fields["event_id"] == event.id and fields["event_type"] == "comment.added"


def test_a_template_naming_an_unknown_field_is_refused():
    with pytest.raises(templates.TemplateError, match=r"\$\{image_id\}"):
        templates.check("${user} ${image_id}", templates.known_fields(["login.failed"]), "subject")


def test_known_fields_are_the_events_data_fields_and_the_envelope():
    assert templates.known_fields(["login.failed"]) == {"user", "remote_addr", "event_id", "event_type",
                                                        "occurred_at", "source"}
