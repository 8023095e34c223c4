"""The eventlog cursor against a plain model, on real PostgreSQL: every committed row once, none skipped.

Three connections write as OMERO's server does (the ``event`` row first, so the
transaction has its id, then the ``eventlog`` rows with ids taken at once from
``seq_eventlog``) and commit or roll back in any order, any of them held open across many
steps (a long import); the bridge's read-only role polls between them with a batch of
three rows, as the bridge does (``EventlogReader.poll``, ``Poll.advance``). The model is
the set of ids each transaction took and what became of them. After every poll:

- no row is published twice, and the row at the cursor's place is still the one read there;
- a gap given up holds no id of a transaction still running, nor a committed row not published;
- every committed id up to the cursor's place is published or inside an open gap.

At the end every transaction commits or rolls back, and a few polls publish exactly the
committed rows. A failing history is printed, shrunk, with the blob that replays it.
"""

from __future__ import annotations

import psycopg
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from events.bridge.cursor import EventlogCursor
from events.bridge.eventlog import EventlogReader, prepare

from .omero_db import Transaction

WRITERS = 3
BATCH = 3


def test_the_cursor_publishes_every_committed_row_once_and_gives_up_only_ids_that_cannot_come(omero_db):
    reader = EventlogReader(batch=BATCH)
    bridge = psycopg.connect(omero_db.bridge_dsn)
    prepare(bridge)
    writers = [psycopg.connect(omero_db.dsn) for _ in range(WRITERS)]

    class OmeroWrites(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.cursor = EventlogCursor(high=reader.end(bridge))
            self.start = self.cursor.high
            self.running: dict[int, Transaction] = {}
            self.committed: set[int] = set()
            self.published: list[int] = []

        def taken(self) -> set[int]:
            return {i for tx in self.running.values() for i in tx.ids}

        @precondition(lambda self: len(self.running) < WRITERS)
        @rule(data=st.data())
        def omero_begins(self, data):
            slot = data.draw(st.sampled_from([s for s in range(WRITERS) if s not in self.running]))
            self.running[slot] = Transaction(writers[slot], user=0, group=0)  # the event row: it has its txid

        @precondition(lambda self: any(not tx.ids for tx in self.running.values()))
        @rule(data=st.data(), rows=st.integers(1, 4))
        def omero_saves_its_logs(self, data, rows):
            slot = data.draw(st.sampled_from([s for s, tx in self.running.items() if not tx.ids]))
            tx = self.running[slot]
            for n in range(rows):
                tx.log("INSERT", "ome.model.core.Image", n)
            tx.ids = tx.save_logs()

        @precondition(lambda self: self.running)
        @rule(data=st.data(), commit=st.booleans())
        def omero_ends(self, data, commit):
            slot = data.draw(st.sampled_from(sorted(self.running)))
            tx = self.running.pop(slot)
            if commit:
                writers[slot].commit()
                self.committed |= set(tx.ids)
            else:
                writers[slot].rollback()

        @rule()
        def bridge_polls(self):
            poll = reader.poll(bridge, self.cursor)
            if self.cursor.anchor is not None:
                assert poll.anchor == self.cursor.anchor, "the row at the cursor's place changed"
            ids = [row.id for row in poll.rows]
            assert not set(ids) & set(self.published), f"published twice: {set(ids) & set(self.published)}"
            final = poll.advance(self.cursor)
            self.published += ids
            for gap in final:
                given_up = set(range(gap.low, gap.high + 1))
                assert not given_up & self.taken(), f"gave up {gap} while a transaction that took it runs"
                assert not given_up & (self.committed - set(self.published)), f"gave up committed rows in {gap}"
            open_gaps = {i for gap in self.cursor.gaps for i in range(gap.low, gap.high + 1)}
            passed = {i for i in self.committed if i <= self.cursor.high}
            assert passed <= set(self.published) | open_gaps, f"skipped {passed - set(self.published) - open_gaps}"

        def teardown(self):
            for slot, tx in self.running.items():
                writers[slot].commit()
                self.committed |= set(tx.ids)
            for _ in range(20):
                poll = reader.poll(bridge, self.cursor)
                self.published += [row.id for row in poll.rows]
                poll.advance(self.cursor)
                if set(self.published) >= self.committed and len(poll.rows) < BATCH:
                    break
            assert sorted(self.published) == sorted(self.committed), "published is not exactly what was committed"
            left = {i for gap in self.cursor.gaps for i in range(gap.low, gap.high + 1)}
            assert not left & self.committed

    try:
        run_state_machine_as_test(OmeroWrites, settings=settings(
            max_examples=100, stateful_step_count=40, deadline=None, print_blob=True))
    finally:
        for conn in [bridge, *writers]:
            conn.close()
