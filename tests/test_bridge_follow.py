"""Following Blitz-0.log as tail -F does: appends, rotation, truncation, and restarts in between."""

from __future__ import annotations

import os

from events.bridge.follow import LogFollower


def append(path, *lines, end="\n"):
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(line + end for line in lines))


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
    follower.close()
    append(log, "b")
    assert LogFollower(log, place).read_lines() == ["b"]


def test_a_rotation_while_stopped_finishes_the_rotated_file_first(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a")
    follower.read_lines()
    place = follower.position
    follower.close()
    append(log, "b")
    os.rename(log, tmp_path / "Blitz-0.log.1")
    append(log, "c")
    resumed = LogFollower(log, place)
    assert resumed.read_lines() == ["b"]
    assert resumed.read_lines() == ["c"]


def test_a_file_truncated_while_stopped_is_read_from_its_first_line(tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.touch()
    follower = LogFollower(log, None)
    append(log, "a fairly long line", "and more")
    follower.read_lines()
    place = follower.position
    follower.close()
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
    follower.close()
    with open(log, "w", encoding="utf-8") as handle:
        handle.write("line 9\n")
    assert LogFollower(log, place).read_lines() == ["line 9"]
