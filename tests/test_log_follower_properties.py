"""The log follower against a plain model of OMERO's log: every line once, in order, or reported lost.

Hypothesis runs random histories of writes, logback rollings (any number, dropping what
passes ``.9``), logrotate copytruncates (the copy kept as ``.1``, or compressed away at
once), reads, stops and restarts from the saved place, on real files. The model knows
which lines a rolling or a truncation destroyed before the follower had read them. At the
end of each history the follower, started again if stopped, reads what is left; then:

- the lines read are the lines written since its first start, in order, each once, except
  exactly those destroyed unread;
- a history that destroyed nothing gives no loss report; each run of lost lines has one,
  unless nothing of what was destroyed was ever seen: a file truncated with no copy left
  before the follower read any of it, or rolled away while the follower had no line
  behind it at all, is a file never written as far as any file now tells (README says so).

A failing history is printed, shrunk, with the blob that replays it (``print_blob``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from events.bridge.follow import LogFollower
from events.bridge.state import LogPosition

#: logback's FixedWindowRollingPolicy keeps Blitz-0.log.1 to .9 (OMERO's etc/logback.xml).
MAX_INDEX = 9


def text(number: int) -> str:
    """A line of its own: never the same bytes twice, some shorter and some longer than the follower's memory."""
    return f"line {number:06d} " + "x" * (number * 7 % 90)


def number(line: str) -> int:
    return int(line.split()[1])


class OmeroLog(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="omero-log-"))
        self.path = self.dir / "Blitz-0.log"
        #: The model: which lines each file holds; 0 is the log itself, N is Blitz-0.log.N.
        self.files: dict[int, list[int]] = {}
        self.written = 0
        self.first = 0
        self.read: list[int] = []
        self.destroyed_unread: set[int] = set()
        #: Lost lines the follower can tell were lost: its place was in, or before, what was destroyed.
        self.destroyed_seen: set[int] = set()
        self.destructive = False
        #: The last line behind the follower's place (None: the place is the start of everything).
        self.place: int | None = None
        self.losses = 0
        self.follower: LogFollower | None = None
        self.saved: dict | None = None

    def _name(self, index: int) -> Path:
        return self.path if index == 0 else self.dir / f"Blitz-0.log.{index}"

    def _lost(self) -> None:
        self.losses += 1

    def _destroy(self, lines: list[int], seen: bool) -> None:
        self.destructive = self.destructive or bool(lines)
        unread = {n for n in lines if n >= self.first} - set(self.read)
        self.destroyed_unread |= unread
        if seen:
            self.destroyed_seen |= unread

    def _append(self, count: int) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            for _ in range(count):
                handle.write(text(self.written) + "\n")
                self.files.setdefault(0, []).append(self.written)
                self.written += 1

    def _shift(self) -> None:
        """Each rolled file one place older; what passes .9 is deleted."""
        if MAX_INDEX in self.files:
            self._destroy(self.files.pop(MAX_INDEX), seen=self.place is not None)
            self._name(MAX_INDEX).unlink()
        for index in range(MAX_INDEX - 1, 0, -1):
            if index in self.files:
                self._name(index).rename(self._name(index + 1))
                self.files[index + 1] = self.files.pop(index)

    @initialize(history=st.integers(0, 3), exists=st.booleans())
    def first_start(self, history, exists):
        if exists or history:
            self.path.touch()
            self.files[0] = []
            self._append(history)  # written before the bridge's first start: history, not news
        self.first = self.written
        self.place = self.written - 1 if history else None
        self.follower = LogFollower(self.path, None, on_loss=self._lost)

    @rule(count=st.integers(1, 4))
    def omero_writes(self, count):
        self._append(count)

    @precondition(lambda self: 0 in self.files)
    @rule(new_file_at_once=st.booleans())
    def logback_rolls(self, new_file_at_once):
        self._shift()
        self._name(0).rename(self._name(1))
        self.files[1] = self.files.pop(0)
        if new_file_at_once:
            self.path.touch()
            self.files[0] = []

    @precondition(lambda self: 0 in self.files)
    @rule(copy_kept=st.booleans())
    def logrotate_copytruncates(self, copy_kept):
        if copy_kept:
            self._shift()
            shutil.copyfile(self.path, self._name(1))
            self.files[1] = list(self.files[0])
        else:  # compressed at once: Blitz-0.log.1.gz is no file the follower can read on from
            self._destroy(self.files[0], seen=self.place in self.files[0])
        with open(self.path, "w"):
            pass
        self.files[0] = []

    @precondition(lambda self: self.follower is not None)
    @rule()
    def bridge_reads(self):
        assert self.follower is not None
        self.read += [number(line) for line in self.follower.read_lines()]
        self.place = self.read[-1] if self.read else self.place

    @precondition(lambda self: self.follower is not None)
    @rule()
    def bridge_stops(self):
        assert self.follower is not None
        self.saved = json.loads(json.dumps(self.follower.position.to_dict()))  # through the state file
        self.follower = None

    @precondition(lambda self: self.follower is None)
    @rule()
    def bridge_starts_again(self):
        assert self.saved is not None
        self.follower = LogFollower(self.path, LogPosition.from_dict(self.saved), on_loss=self._lost)

    @invariant()
    def lines_come_in_order_each_once_and_only_news(self):
        assert self.read == sorted(set(self.read)), f"out of order or twice: {self.read}"
        assert all(self.first <= n < self.written for n in self.read)

    def teardown(self):
        try:
            if self.follower is None and self.saved is not None:
                self.bridge_starts_again()
            if self.follower is not None:
                while more := self.follower.read_lines():
                    self.read += [number(line) for line in more]
            self.lines_come_in_order_each_once_and_only_news()
            missing = [n for n in range(self.first, self.written) if n not in set(self.read)]
            assert set(missing) == self.destroyed_unread, f"lost {missing}, destroyed unread {self.destroyed_unread}"
            runs = [[n] for n in missing[:1]]
            for n in missing[1:]:
                if runs[-1][-1] == n - 1:
                    runs[-1].append(n)
                else:
                    runs.append([n])
            told = sum(1 for run in runs if self.destroyed_seen & set(run))
            assert self.losses >= told, f"{told} run(s) of lines lost that could be told, {self.losses} reported"
            if not self.destructive:
                assert self.losses == 0, "a loss reported where nothing was destroyed"
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


OmeroLog.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None, print_blob=True)
test_the_follower_reads_every_line_once_in_order_or_reports_it_lost = OmeroLog.TestCase
