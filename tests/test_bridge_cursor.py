"""The eventlog cursor: every id is published once, and a late commit is never skipped."""

from __future__ import annotations

from events.bridge.cursor import MAX_GAPS, Anchor, EventlogCursor, Gap, Snapshot

#: No transaction running that began before the gaps were seen: gaps are final.
QUIET = Snapshot(xmin=1000, xmax=1000)
#: A transaction (txid 500) still running: gaps seen now stay open.
BUSY = Snapshot(xmin=500, xmax=600)


def test_consecutive_rows_move_high_and_leave_no_gap():
    cursor = EventlogCursor(high=10)
    cursor.advance([11, 12, 13], BUSY)
    assert (cursor.high, cursor.gaps) == (13, [])


def test_a_missing_id_below_the_newest_becomes_a_gap_while_transactions_run():
    cursor = EventlogCursor(high=10)
    cursor.advance([11, 14], BUSY)
    assert cursor.high == 14
    assert cursor.gaps == [Gap(12, 13, BUSY.xmax)]
    assert cursor.gap_ranges() == [(12, 13)]


def test_a_late_commit_inside_a_gap_fills_it():
    cursor = EventlogCursor(high=10)
    cursor.advance([11, 14], BUSY)
    cursor.advance([12, 13], BUSY)
    assert cursor.gaps == []


def test_a_row_in_the_middle_of_a_gap_splits_it():
    cursor = EventlogCursor(high=0)
    cursor.advance([10], BUSY)
    cursor.advance([5], BUSY)
    assert cursor.gap_ranges() == [(1, 4), (6, 9)]


def test_a_gap_stays_open_while_a_transaction_older_than_it_runs():
    cursor = EventlogCursor(high=10)
    cursor.advance([12], Snapshot(xmin=500, xmax=600))
    final = cursor.advance([], Snapshot(xmin=599, xmax=700))
    assert final == [] and cursor.gap_ranges() == [(11, 11)]


def test_a_gap_is_given_up_once_every_transaction_that_could_fill_it_has_ended():
    cursor = EventlogCursor(high=10)
    cursor.advance([12], Snapshot(xmin=500, xmax=600))
    final = cursor.advance([], Snapshot(xmin=600, xmax=650))
    assert final == [Gap(11, 11, 600)] and cursor.gaps == []


def test_no_gap_is_given_up_when_the_poll_could_not_read_all_rows_inside_the_gaps():
    cursor = EventlogCursor(high=10)
    cursor.advance([12], BUSY)
    assert cursor.advance([], QUIET, gaps_read_whole=False) == []
    assert cursor.gap_ranges() == [(11, 11)]


def test_a_gap_seen_under_a_quiet_snapshot_is_final_at_once():
    # Nothing was running: the missing id belongs to a transaction that rolled back.
    cursor = EventlogCursor(high=10)
    final = cursor.advance([12], QUIET)
    assert final == [Gap(11, 11, QUIET.xmax)] and cursor.gaps == []


def test_ids_read_twice_are_accounted_once():
    cursor = EventlogCursor(high=10)
    cursor.advance([11, 11, 12], BUSY)
    assert (cursor.high, cursor.gaps) == (12, [])


def test_open_gaps_past_the_limit_are_kept_and_the_cursor_says_it_is_over():
    cursor = EventlogCursor(high=0)
    final = cursor.advance(range(2, 2 * (MAX_GAPS + 5), 2), BUSY)
    assert final == [] and len(cursor.gaps) == MAX_GAPS + 4
    assert cursor.gaps[0] == Gap(1, 1, BUSY.xmax) and cursor.over_limit


def test_the_cursor_round_trips_through_its_saved_form():
    cursor = EventlogCursor(high=10)
    cursor.advance([12, 15], BUSY)
    cursor.anchor = Anchor(7, "2026-12-02T10:00:00.123000", "INSERT", "ome.model.core.Image", 3)
    assert EventlogCursor.from_dict(cursor.to_dict()) == cursor


def test_a_saved_cursor_without_an_anchor_reads_as_one_whose_anchor_is_not_known_yet():
    assert EventlogCursor.from_dict({"high": 4, "gaps": []}) == EventlogCursor(high=4)
