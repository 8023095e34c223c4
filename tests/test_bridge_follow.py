"""Following Blitz-0.log as tail -F does: appends, rotation, truncation, and restarts in between."""

from __future__ import annotations

import logging
import os
import shutil

from events.bridge.follow import LogFollower


def append(path, *lines, end="\n"):
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(line + end for line in lines))


def roll(log, max_index: int = 9) -> None:
    """logback's FixedWindowRollingPolicy: the oldest dropped, .1 to .2 ..., the log to .1."""
    oldest = log.with_name(f"{log.name}.{max_index}")
    if oldest.exists():
        oldest.unlink()
    for index in range(max_index - 1, 0, -1):
        rolled = log.with_name(f"{log.name}.{index}")
        if rolled.exists():
            os.rename(rolled, log.with_name(f"{log.name}.{index + 1}"))
    os.rename(log, log.with_name(f"{log.name}.1"))
    log.touch()


def read_all(follower: LogFollower) -> list[str]:
    """Every line there is now, however many reads it takes."""
    lines: list[str] = []
    while more := follower.read_lines():
        lines += more
    return lines


class Losses:
    """What the follower reports as lost: the callback behind the bridge's metric."""

    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_first_start_begins_at_the_current_end_of_the_log(tmp_path):
    log = tmp_path / "Blitz-0.log"
    append(log, "old 1", "old 2")
    follower = LogFollower(log, None)
    assert follower.read_lines() == []
    append(log, "new")
    assert follower.read_lines() == ["new"]


def test_a_log_that_does_not_exist_yet_is_read_from_its_first_line_once_it_appears(tmp_path):
    log = tmp_path / "Blitz-0.log"
    follower = LogFollower(log, None)
    assert follower.read_lines() == []
    append(log, "first")
    assert follower.read_lines() == ["first"]


def test_a_line_still_being_written_waits_for_its_newline(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "half", end="")
    assert follower.read_lines() == []
    append(log, " done")
    assert follower.read_lines() == ["half done"]


def test_after_a_rename_the_old_file_is_finished_then_the_new_one_followed(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a")
    assert follower.read_lines() == ["a"]
    append(log, "b")
    os.rename(log, tmp_path / "Blitz-0.log.1")  # logback's FixedWindowRollingPolicy
    append(log, "c")
    assert follower.read_lines() + follower.read_lines() == ["b", "c"]
    append(log, "d")
    assert follower.read_lines() == ["d"]


def test_a_truncated_file_is_read_again_from_its_first_line(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a long first line", "another")
    assert len(follower.read_lines()) == 2
    with open(log, "w", encoding="utf-8") as handle:  # logrotate's copytruncate
        handle.write("x\n")
    assert follower.read_lines() == ["x"]


def test_a_restart_reads_on_from_the_saved_place(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a")
    follower.read_lines()
    place = follower.position
    append(log, "b")
    assert LogFollower(log, place).read_lines() == ["b"]


def test_a_rotation_while_stopped_finishes_the_rotated_file_first(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a")
    follower.read_lines()
    place = follower.position
    append(log, "b")
    os.rename(log, tmp_path / "Blitz-0.log.1")
    append(log, "c")
    assert read_all(LogFollower(log, place)) == ["b", "c"]


def test_a_file_truncated_while_stopped_is_read_from_its_first_line(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a fairly long line", "and more")
    follower.read_lines()
    place = follower.position
    with open(log, "w", encoding="utf-8") as handle:
        handle.write("y\n")
    assert LogFollower(log, place).read_lines() == ["y"]


def test_a_file_truncated_and_written_past_the_old_place_is_read_from_its_first_line(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "line 1")
    follower.read_lines()
    with open(log, "w", encoding="utf-8") as handle:  # truncated, then refilled before the next look
        handle.write("line 2\nline 3\n")
    assert follower.read_lines() == ["line 2", "line 3"]


def test_a_file_truncated_and_refilled_while_stopped_is_read_from_its_first_line(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "line 1")
    follower.read_lines()
    place = follower.position
    with open(log, "w", encoding="utf-8") as handle:
        handle.write("line 9\n")
    assert LogFollower(log, place).read_lines() == ["line 9"]


def test_two_rotations_while_stopped_are_read_in_order_up_to_the_current_file(tmp_path, caplog):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a")
    follower.read_lines()
    place = follower.position
    append(log, "b")
    roll(log)
    append(log, "c")
    roll(log)
    append(log, "d")
    assert read_all(LogFollower(log, place)) == ["b", "c", "d"]
    assert warnings(caplog) == []


def test_rotations_while_the_follower_is_not_reading_are_read_in_order(tmp_path):
    # A broker outage holds the bridge's reads while logback rolls the file it has open.
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a")
    assert follower.read_lines() == ["a"]
    for line in ("b", "c", "d"):
        append(log, line)
        roll(log)
    append(log, "e")
    assert read_all(follower) == ["b", "c", "d", "e"]


def test_a_copytruncate_while_stopped_reads_the_rest_from_the_copy(tmp_path, caplog):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a line the bridge read")
    follower.read_lines()
    place = follower.position
    append(log, "a line written while it was stopped")
    shutil.copy(log, tmp_path / "Blitz-0.log.1")  # logrotate's copytruncate, the copy kept as it is
    with open(log, "w"):
        pass
    append(log, "after the truncation")
    assert read_all(LogFollower(log, place)) == ["a line written while it was stopped", "after the truncation"]
    assert warnings(caplog) == []


def test_a_truncation_while_stopped_with_no_copy_is_one_warning_and_counted(tmp_path, caplog):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a line the bridge read")
    follower.read_lines()
    place = follower.position
    append(log, "a line nobody can read any more")
    with open(log, "w", encoding="utf-8") as handle:  # copytruncate with the copy compressed at once
        handle.write("after the truncation\n")
    losses = Losses()
    resumed = LogFollower(log, place, on_loss=losses)
    assert read_all(resumed) == ["after the truncation"]
    assert losses.count == 1
    [warning] = warnings(caplog)
    assert "truncated" in warning and str(log) in warning and "lost" in warning


def test_a_file_rolled_away_while_stopped_is_one_warning_and_the_oldest_file_left_is_read(tmp_path, caplog):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "read")
    follower.read_lines()
    place = follower.position
    for n in range(11):  # logback keeps nine: the file the bridge was reading is gone, and the next
        append(log, f"line {n}")
        roll(log)
    losses = Losses()
    assert read_all(LogFollower(log, place, on_loss=losses)) == [f"line {n}" for n in range(2, 11)]
    assert losses.count == 1
    [warning] = warnings(caplog)
    assert "Blitz-0.log.9" in warning and "lost" in warning


def test_a_truncation_seen_while_following_with_no_copy_is_one_warning_and_counted(tmp_path, caplog):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    losses = Losses()
    follower = LogFollower(log, None, on_loss=losses)
    append(log, "a long first line", "another")
    follower.read_lines()
    with open(log, "w", encoding="utf-8") as handle:
        handle.write("x\n")
    assert follower.read_lines() == ["x"]
    assert losses.count == 1 and len(warnings(caplog)) == 1


def test_a_first_start_on_an_empty_log_reads_what_a_rotation_while_stopped_moved_away(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    place = LogFollower(log, None).position
    append(log, "a")
    roll(log)
    append(log, "b")
    assert read_all(LogFollower(log, place)) == ["a", "b"]
