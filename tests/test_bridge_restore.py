"""A restored dump of OMERO's database: the bridge never passes over the ids OMERO reuses.

After a restore, ``omero.db.uuid`` is the same and OMERO's sequences are back where the
dump left them, below the bridge's place: OMERO gives the next rows ids the bridge has
passed already. The bridge refuses to go on, with one line saying what happened and what
to run; the command it names publishes those rows under event ids of their own, so the
rules stage does not fold them as copies of the rows that had those ids before.

Real PostgreSQL, ``pg_dump`` and ``pg_restore``; real RabbitMQ.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from events.bridge.errors import BridgeError

from .bridge_helpers import ROOT, published, run_once, start_bridge, write_properties
from .conftest import wait_for


@pytest.fixture
def restored(omero_db, bridge_props, tmp_path):
    """Last night's dump restored after the bridge published what came after it."""
    run_once(bridge_props)
    with omero_db.transaction() as tx:
        tx.new_group("in-the-dump")
    run_once(bridge_props)
    dump = omero_db.dump(tmp_path / "omero.pgdump")
    with omero_db.transaction() as tx:
        tx.new_group("lost-with-the-restore")
        tx.new_group("lost-too")
    run_once(bridge_props)
    before = published(bridge_props)
    omero_db.restore(dump)
    return before


def command_in(message: str) -> list[str]:
    found = re.search(r"omero-mail bridge ([^;()]*?--from-id \d+)", message)
    assert found, f"no command in {message!r}"
    return found[1].split()


def test_a_restored_dump_below_the_saved_place_is_refused_with_one_line_naming_what_to_run(
        omero_db, bridge_props, restored):
    with omero_db.transaction() as tx:
        tx.new_experimenter("dora", "dora@example.org")
    with pytest.raises(BridgeError) as refused:
        run_once(bridge_props)
    message = str(refused.value)
    assert "\n" not in message
    assert "eventlog went back" in message and "restored" in message
    assert command_in(message)[-2:] == ["--from-id", str(tx.ids[0])]
    assert published(bridge_props) == []


def test_the_command_named_publishes_the_reused_ids_under_new_event_ids(omero_db, bridge_props, restored):
    with omero_db.transaction() as tx:
        dora = tx.new_experimenter("dora", "dora@example.org")
    with pytest.raises(BridgeError) as refused:
        run_once(bridge_props)
    from_id = int(command_in(str(refused.value))[-1])
    run_once(bridge_props, from_id=from_id)
    [event] = published(bridge_props)
    assert (event["data"]["object_id"], event["data"]["name"]) == (dora, "dora")
    earlier = {e["data"]["eventlog_id"]: e["id"] for e in restored}
    assert event["data"]["eventlog_id"] in earlier, "the test meant OMERO to reuse an id"
    assert event["id"] != earlier[event["data"]["eventlog_id"]]
    with omero_db.transaction() as tx:
        tx.new_group("after")
    run_once(bridge_props)
    [after] = published(bridge_props)
    assert after["data"]["name"] == "after"


def test_a_restore_under_a_running_bridge_stops_it_with_one_line(omero_db, bridge_props, tmp_path):
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    log = tmp_path / "bridge.log"
    bridge = start_bridge(config, log=log)
    try:
        wait_for((tmp_path / "bridge-state.json").exists, 30, what="the bridge to start")
        dump = omero_db.dump(tmp_path / "omero.pgdump")
        with omero_db.transaction() as tx:
            tx.new_group("lost-with-the-restore")
        wait_for(lambda: published(bridge_props), 30, what="the group to be published")
        omero_db.restore(dump)
        with omero_db.transaction() as tx:
            tx.new_group("reuses-its-id")
        assert bridge.wait(60) == 1
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait()
    last = log.read_text().strip().splitlines()[-1]
    assert last.startswith("omero-mail: error: OMERO's eventlog went back")
    assert "Traceback" not in log.read_text()
    state = json.loads((tmp_path / "bridge-state.json").read_text())
    assert state["eventlog"]["high"] >= tx.ids[0], "the place was not moved back"


def test_the_refusal_on_the_command_line_is_one_line_and_exit_1(omero_db, bridge_props, restored, tmp_path):
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    done = subprocess.run([sys.executable, "-m", "consumer.admin.cli", "--config", str(config), "bridge", "--once"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("omero-mail: error: OMERO's eventlog went back")


def test_rows_of_the_dump_read_again_keep_their_event_ids(omero_db, bridge_props, restored):
    # A --from-id given too low reads rows that were published before the restore: same ids, folded.
    with pytest.raises(BridgeError):
        run_once(bridge_props)
    run_once(bridge_props, from_id=1)
    again = {e["data"]["eventlog_id"]: e["id"] for e in published(bridge_props)}
    before = {e["data"]["eventlog_id"]: e["id"] for e in restored}
    [in_the_dump] = [i for i in again if i in before]
    assert again[in_the_dump] == before[in_the_dump]
