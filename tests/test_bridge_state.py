"""The state file: replaced whole, by any number of writers at once, never half-written."""

from __future__ import annotations

import json
import threading

from events.bridge.cursor import EventlogCursor
from events.bridge.state import BridgeState, StateError, write_state


def test_writers_at_once_never_fail_and_leave_one_whole_file(tmp_path):
    path = tmp_path / "bridge-state.json"
    errors: list[StateError] = []

    def write(writer: int) -> None:
        for n in range(200):
            try:
                write_state(path, BridgeState(f"database-{writer}", EventlogCursor(high=n)))
            except StateError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert json.loads(path.read_text())["eventlog"]["high"] == 199
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
