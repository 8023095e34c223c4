"""``omero-mail bridge`` on the command line: what ``--once`` says, and its exit codes.

A setting only the admin can mend (a role or database that does not exist) is one line
and exit 1, at once; an outage is waited out; an interrupt exits 130.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from .bridge_helpers import ROOT, start_bridge, write_properties
from .conftest import wait_for


def bridge(config, *args, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "consumer.admin.cli", "--config", str(config), "bridge", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_once_publishes_and_says_on_one_line_what_it_published(omero_db, bridge_props, tmp_path):
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    assert bridge(config, "--once").returncode == 0
    with omero_db.transaction() as tx:
        tx.new_group("one")
        tx.new_image("two.tif")
    done = bridge(config, "--once")
    assert done.returncode == 0
    [line] = done.stdout.splitlines()
    assert line.startswith(f"published 2 event(s) from 2 eventlog row(s) (ids {tx.ids[0]}..{tx.ids[1]})")


def test_once_with_a_role_that_does_not_exist_is_one_line_and_exit_1(omero_db, bridge_props, tmp_path):
    dsn = omero_db.bridge_dsn.rpartition("user=")[0] + "user=nosuchrole"
    bridge_props.update({"omero.mail.bridge.dsn": dsn}, origin="test")
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    started = time.monotonic()
    done = bridge(config, "--once")
    assert done.returncode == 1 and time.monotonic() - started < 30
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("omero-mail: error: OMERO's database") and 'role "nosuchrole" does not exist' in line
    assert "attempt" not in done.stderr


def test_a_database_that_does_not_exist_is_one_line_and_exit_1(omero_db, bridge_props, tmp_path):
    dsn = omero_db.bridge_dsn.replace("dbname=", "dbname=nosuchdb_")
    bridge_props.update({"omero.mail.bridge.dsn": dsn}, origin="test")
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    done = bridge(config)
    assert done.returncode == 1
    assert "does not exist" in done.stderr.strip().splitlines()[-1]


def test_an_interrupt_while_waiting_for_the_database_exits_130(bridge_props, tmp_path):
    bridge_props.update({"omero.mail.bridge.dsn": "host=127.0.0.1 port=1 dbname=omero user=omero"}, origin="test")
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    log = tmp_path / "bridge.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "consumer.admin.cli", "--config", str(config),
                                    "bridge", "--once"],
                                   cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "attempt 1" in log.read_text(), 30, what="the outage to be logged")
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_once_beside_an_active_bridge_is_one_line_and_exit_1(bridge_props, tmp_path):
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    log = tmp_path / "active.log"
    active = start_bridge(config, log=log)
    try:
        wait_for(lambda: "active:" in log.read_text(), 30, what="the first bridge to lead")
        done = bridge(config, "--once")
    finally:
        active.terminate()
        active.wait(30)
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("omero-mail: error: --once publishes nothing while") and "stop it first" in line
