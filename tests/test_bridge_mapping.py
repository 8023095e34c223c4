"""What each eventlog row becomes: events that load under the contract, and skips with a reason."""

from __future__ import annotations

from datetime import datetime

import pytest

from events.bridge.cursor import Snapshot
from events.bridge.eventlog import CommentLink, Poll, Row
from events.bridge.mapping import RowFilter, event_id, map_poll
from events.schemas import load_event

WHEN = datetime(2026, 12, 2, 10, 0, 0)


def poll(*rows: Row, links=None, names=None) -> Poll:
    return Poll(Snapshot(1, 1), list(rows), True, max((r.id for r in rows), default=0), links or {}, names or {})


def row(row_id: int, action: str = "INSERT", entitytype: str = "ome.model.core.Image", entityid: int = 7) -> Row:
    return Row(row_id, action, entitytype, entityid, 2, WHEN)


def mapped(*rows: Row, rows_filter: RowFilter = RowFilter(), **lookups):
    return map_poll(poll(*rows, **lookups), "db-uuid", "omero-bridge@host", rows_filter)


@pytest.mark.parametrize("action, kind", [("INSERT", "object.created"), ("UPDATE", "object.updated"),
                                          ("DELETE", "object.deleted")])
def test_each_action_becomes_its_event_type_and_loads_under_the_contract(action, kind):
    [event] = mapped(row(1, action)).events
    loaded = load_event(event.to_json())
    assert loaded.type == kind
    assert loaded.data == {"object_class": "ome.model.core.Image", "object_id": 7, "actor_id": 2, "eventlog_id": 1}


def test_a_comment_link_becomes_object_created_and_comment_added_both_loading_under_the_contract():
    link = CommentLink(link_id=9, comment_id=5, image_id=7, commenter_id=3, text="hi", image_owner_id=2,
                       image_name="a.tif")
    events = mapped(row(1, entitytype="ome.model.annotations.ImageAnnotationLink", entityid=9), links={9: link}).events
    assert [e.type for e in events] == ["object.created", "comment.added"]
    assert load_event(events[1].to_json()).data["image_owner_id"] == 2


def test_the_event_time_is_the_omero_events_time():
    [event] = mapped(row(1)).events
    assert load_event(event.to_json()).occurred_at.replace(tzinfo=None) == WHEN


def test_event_ids_differ_by_database_row_and_type():
    ids = {event_id("a", "eventlog", "1/object.created"), event_id("b", "eventlog", "1/object.created"),
           event_id("a", "eventlog", "2/object.created"), event_id("a", "eventlog", "1/comment.added")}
    assert len(ids) == 4


def test_the_same_row_has_the_same_id_and_an_id_reused_by_a_later_row_another():
    # After a restored dump OMERO gives a new row an id it had given before: its event's time differs.
    later = Row(1, "INSERT", "ome.model.core.Image", 7, 2, WHEN.replace(hour=11))
    assert mapped(row(1)).events[0].id == mapped(row(1)).events[0].id
    assert mapped(row(1)).events[0].id != mapped(later).events[0].id


def test_a_known_name_is_carried():
    [event] = mapped(row(1), names={("ome.model.core.Image", 7): "cells.tif"}).events
    assert event.data["name"] == "cells.tif"


@pytest.mark.parametrize("action", ["REINDEX", "PIXELDATA", "PASSWORD", "CHMOD(rwra--)"])
def test_actions_that_are_no_change_of_an_object_are_skipped(action):
    result = mapped(row(1, action))
    assert result.events == [] and [s.reason for s in result.skipped] == ["action"]


def test_actions_and_classes_can_be_narrowed():
    narrow = RowFilter(actions=frozenset({"INSERT"}), classes=frozenset({"Experimenter"}))
    result = mapped(row(1, "UPDATE"), row(2), row(3, entitytype="ome.model.meta.Experimenter"), rows_filter=narrow)
    assert [e.data["eventlog_id"] for e in result.events] == [3]
    assert [s.reason for s in result.skipped] == ["filtered", "filtered"]
