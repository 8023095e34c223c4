"""The bridge reads OMERO's eventlog as OMERO writes it and publishes each change once.

Real PostgreSQL with OMERO's tables (tests/omero/schema.sql), written the way OMERO's
server writes them; the bridge connects as the read-only role of README's grants; real
RabbitMQ. One bridge cycle runs in the test's process.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from events.bridge import cursor as cursor_module
from events.bridge.state import StateError

from .bridge_helpers import published, run_once
from .omero_db import TAG, Transaction


def types(events):
    return [(e["type"], e["data"].get("object_class"), e["data"].get("object_id")) for e in events]


def test_a_first_start_begins_at_the_current_end_of_eventlog(omero_db, bridge_props):
    with omero_db.transaction() as tx:
        tx.new_group("history")
    run_once(bridge_props)
    assert published(bridge_props) == []
    with omero_db.transaction() as tx:
        group = tx.new_group("news")
    run_once(bridge_props)
    assert types(published(bridge_props)) == [("object.created", "ome.model.meta.ExperimenterGroup", group)]


def test_from_id_publishes_from_that_eventlog_id_on(omero_db, bridge_props):
    with omero_db.transaction() as tx:
        first = tx.new_group("one")
    with omero_db.transaction() as tx:
        second = tx.new_group("two")
    run_once(bridge_props, from_id=tx.ids[0])
    assert [e["data"]["object_id"] for e in published(bridge_props)] == [second]
    assert first != second


def test_insert_update_and_delete_become_object_created_updated_and_deleted(omero_db, bridge_props):
    run_once(bridge_props)
    with omero_db.transaction(user=0) as tx:
        image = tx.new_image("cells.tif")
    with omero_db.transaction(user=0) as tx:
        tx.rename_image(image, "cells-2.tif")
    with omero_db.transaction(user=0) as tx:
        tx.delete_image(image)
    run_once(bridge_props)
    events = published(bridge_props)
    assert types(events) == [("object.created", "ome.model.core.Image", image),
                             ("object.updated", "ome.model.core.Image", image),
                             ("object.deleted", "ome.model.core.Image", image)]
    assert events[0]["data"]["actor_id"] == 0
    assert "name" not in events[0]["data"]  # names are read with the rows: this image is gone by then


def test_a_new_user_carries_the_omename_and_the_eventlog_id(omero_db, bridge_props):
    run_once(bridge_props)
    with omero_db.transaction() as tx:
        user = tx.new_experimenter("dora", "dora@example.org")
    run_once(bridge_props)
    [event] = [e for e in published(bridge_props) if e["type"] == "object.created"]
    assert event["data"] == {"object_class": "ome.model.meta.Experimenter", "object_id": user, "actor_id": 0,
                             "name": "dora", "eventlog_id": tx.ids[0]}


def test_a_comment_linked_to_an_image_is_comment_added_with_owner_commenter_and_text(omero_db, bridge_props):
    run_once(bridge_props)
    with omero_db.transaction() as tx:
        owner = tx.new_experimenter("owner")
        commenter = tx.new_experimenter("commenter")
    with omero_db.transaction(user=owner) as tx:
        image = tx.new_image("tumour.tif")
    # OMERO.web saves the comment, then the link: two service calls, two transactions.
    with omero_db.transaction(user=commenter) as tx:
        comment = tx.new_annotation("Nice mitosis")
    with omero_db.transaction(user=commenter) as tx:
        tx.link(image, comment)
    run_once(bridge_props)
    [added] = [e for e in published(bridge_props) if e["type"] == "comment.added"]
    assert added["data"] == {"comment_id": comment, "image_id": image, "image_owner_id": owner,
                             "commenter_id": commenter, "text": "Nice mitosis", "image_name": "tumour.tif",
                             "eventlog_id": tx.ids[0]}


def test_a_tag_linked_to_an_image_is_no_comment(omero_db, bridge_props):
    run_once(bridge_props)
    with omero_db.transaction() as tx:
        image = tx.new_image("a.tif")
        tx.link(image, tx.new_annotation("tag", discriminator=TAG))
    run_once(bridge_props)
    assert "comment.added" not in [e["type"] for e in published(bridge_props)]


def test_other_actions_are_skipped_and_counted(omero_db, bridge_props):
    run_once(bridge_props)
    with omero_db.transaction() as tx:
        image = tx.new_image("a.tif")
        tx.log("REINDEX", "ome.model.core.Image", image)
        tx.log("PIXELDATA", "ome.model.core.Pixels", 9)
    bridge = run_once(bridge_props)
    assert [e["type"] for e in published(bridge_props)] == ["object.created"]
    assert bridge.metrics.skipped.labels("action")._value.get() == 2


def test_a_row_that_is_no_omero_class_is_skipped_logged_once_with_its_id(omero_db, bridge_props, caplog):
    run_once(bridge_props)
    with omero_db.transaction() as tx:
        tx.log("INSERT", "not.a.model.Thing", 1)
    run_once(bridge_props)
    assert published(bridge_props) == []
    assert [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()] == [
        f"eventlog row {tx.ids[0]} skipped: entitytype 'not.a.model.Thing' is not an OMERO model class"]


def test_a_comment_linked_to_an_image_deleted_since_is_skipped_with_its_id(omero_db, bridge_props, caplog):
    run_once(bridge_props)
    with omero_db.transaction() as tx:
        image = tx.new_image("gone.tif")
        comment = tx.new_annotation("hello")
    with omero_db.connect() as conn:
        # A link to an image that no longer exists (OMERO defers its constraints).
        conn.execute("alter table imageannotationlink drop constraint FKimageannotationlink_parent_image")
    with omero_db.transaction() as tx:
        tx.link(image, comment)
        tx.conn.execute("delete from image where id = %s", (image,))
    bridge = run_once(bridge_props)
    assert "comment.added" not in [e["type"] for e in published(bridge_props)]
    assert bridge.metrics.skipped.labels("missing")._value.get() == 1
    assert any(f"eventlog row {tx.ids[0]} skipped" in r.getMessage() for r in caplog.records)


def test_a_slow_transaction_that_commits_below_ids_already_read_is_still_published(omero_db, bridge_props):
    run_once(bridge_props)
    slow = psycopg.connect(omero_db.dsn)
    with omero_db.transaction(conn=slow) as late:
        late_group = late.new_group("late")
        late.ids = late.save_logs()  # its eventlog id is taken now, below the next one...
        late.logs = []
        with omero_db.transaction() as quick:
            quick_group = quick.new_group("quick")
        run_once(bridge_props)  # ...which is read and published first
        assert [e["data"]["object_id"] for e in published(bridge_props)] == [quick_group]
    slow.close()
    run_once(bridge_props)
    assert [e["data"]["object_id"] for e in published(bridge_props)] == [late_group]


def test_an_id_of_a_rolled_back_transaction_is_given_up_once_it_ended(omero_db, bridge_props):
    run_once(bridge_props)
    with pytest.raises(RuntimeError), omero_db.transaction() as doomed:
        doomed.new_group("doomed")
        doomed.save_logs()
        doomed.logs = []
        raise RuntimeError("rolled back")
    with omero_db.transaction() as tx:
        tx.new_group("kept")
    bridge = run_once(bridge_props)
    assert len(published(bridge_props)) == 1
    assert bridge.metrics.gaps_final._value.get() == 1
    state = json.loads((bridge.settings.state_path).read_text())
    assert state["eventlog"]["gaps"] == []


def test_a_row_published_twice_has_the_same_event_id(omero_db, bridge_props):
    run_once(bridge_props)
    with omero_db.transaction() as tx:
        tx.new_group("twice")
    run_once(bridge_props, from_id=tx.ids[0])
    run_once(bridge_props, from_id=tx.ids[0])
    first, second = published(bridge_props)
    assert first["id"] == second["id"]


def test_a_state_file_of_another_omero_database_is_refused_with_one_line(omero_db, bridge_props):
    run_once(bridge_props)
    path = bridge_props["omero.mail.bridge.state"]
    with open(path) as handle:
        state = json.load(handle)
    state["database"] = "another-database"
    with open(path, "w") as handle:
        json.dump(state, handle)
    with pytest.raises(StateError, match="belongs to OMERO database another-database"):
        run_once(bridge_props)


def test_once_publishes_every_row_there_not_one_batch(omero_db, bridge_props):
    run_once(bridge_props)
    with omero_db.connect() as conn:
        for start in range(0, 2500, 500):
            with omero_db.transaction(conn=conn) as tx:
                for n in range(start, start + 500):
                    tx.new_image(f"image-{n}.tif")
    run_once(bridge_props)
    assert len(published(bridge_props)) == 2500


def test_open_gaps_past_the_limit_are_kept_and_warned_of_never_given_up_unchecked(
        omero_db, bridge_props, monkeypatch, caplog):
    monkeypatch.setattr(cursor_module, "MAX_GAPS", 3)
    run_once(bridge_props)
    slow = psycopg.connect(omero_db.dsn)
    with omero_db.transaction(conn=slow) as late:  # running since before every gap below
        late_group = late.new_group("late")
        late.ids = late.save_logs()
        late.logs = []
        for n in range(5):  # five ids of rolled-back transactions, each between two rows
            with pytest.raises(RuntimeError), omero_db.transaction() as doomed:
                doomed.new_image(f"doomed-{n}.tif")
                doomed.save_logs()
                doomed.logs = []
                raise RuntimeError("rolled back")
            with omero_db.transaction() as tx:
                tx.new_image(f"kept-{n}.tif")
        bridge = run_once(bridge_props)
        assert bridge.metrics.gaps_final._value.get() == 0
        assert bridge.metrics.gaps_over_limit._value.get() == 1
        assert [m for m in (r.getMessage() for r in caplog.records if r.levelname == "WARNING")
                if "open gaps" in m and "limit" in m]
    slow.close()
    bridge = run_once(bridge_props)
    assert late_group in [e["data"]["object_id"] for e in published(bridge_props)]
    assert bridge.metrics.gaps_final._value.get() == 5


def test_a_gap_whose_writer_is_newer_than_every_finished_transaction_waits_for_it(omero_db, bridge_props):
    # PostgreSQL's snapshot xmax is one past the newest finished transaction: a running one
    # that began later is not below it, and its gap must not be given up for that.
    run_once(bridge_props)
    older, younger = psycopg.connect(omero_db.dsn), psycopg.connect(omero_db.dsn)
    first = Transaction(older, user=0, group=0)
    second = Transaction(younger, user=0, group=0)
    group = second.new_group("younger")
    second.ids = second.save_logs()  # the lower id, taken by the younger transaction
    first.new_group("older")
    first.save_logs()
    older.commit()
    bridge = run_once(bridge_props)
    assert bridge.metrics.gaps_final._value.get() == 0
    younger.commit()
    run_once(bridge_props)
    assert group in [e["data"]["object_id"] for e in published(bridge_props)]
    older.close()
    younger.close()
