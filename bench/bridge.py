"""The bridge's figures: catch-up over 100,000 eventlog rows, lag at a steady 50 rows/s,
and the load it puts on an idle OMERO database.

OMERO's tables (``tests/omero/schema.sql``) in a database of the benchmark's own on the
local PostgreSQL; rows written as OMERO writes them (``event`` row, objects, then the
transaction's eventlog rows from ``ome_nextval('seq_eventlog', n)``); ``omero-mail bridge``
as a process of its own; RabbitMQ on localhost. Prints figures, asserts nothing.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pika
import psycopg

from events import topology as topo

from .cpu import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "tests" / "omero" / "schema.sql"
ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DATABASE = "omero_mail_bench"
DSN = f"host=127.0.0.1 port=5432 user=postgres dbname={DATABASE}"
CATCH_UP_ROWS = 100_000
STEADY_RATE, STEADY_SECONDS = 50, 10
IDLE_SECONDS = 10
PER_TRANSACTION = 1000

INSERT_IMAGES = """
with event as (
    insert into event (id, permissions, time, experimenter, experimentergroup, "session", type)
    values (ome_nextval('seq_event'), -35, now(), 0, 0, 1, 4) returning id
), images as (
    insert into image (id, permissions, name, creation_id, update_id, group_id, owner_id)
    select ome_nextval('seq_image'), -56, 'bench-' || n, event.id, event.id, 0, 0
      from event, generate_series(1, %(count)s) n
    returning id, creation_id
), last as (select ome_nextval('seq_eventlog', %(count)s) as value)
insert into eventlog (id, permissions, entityid, entitytype, action, event)
select last.value - %(count)s + row_number() over (order by images.id), -35, images.id,
       'ome.model.core.Image', 'INSERT', images.creation_id
  from images, last
returning id
"""


def fresh_database() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(SCHEMA.read_text())


def drop_database() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def write_images(conn: psycopg.Connection, count: int) -> list[int]:
    """One OMERO transaction inserting ``count`` images; their eventlog ids."""
    with conn.transaction():
        return [row[0] for row in conn.execute(INSERT_IMAGES, {"count": count})]


def queue_depth(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")
               or line.startswith(name + "_total "))


def transactions(conn: psycopg.Connection) -> int:
    with conn.transaction():
        row = conn.execute("select xact_commit + xact_rollback from pg_stat_database where datname = %s",
                           (DATABASE,)).fetchone()
    if row is None:
        raise RuntimeError(f"no database {DATABASE!r} in pg_stat_database")
    return int(row[0])


class BridgeProcess:
    def __init__(self, url: str, workdir: Path, metrics_port: int, from_id: int):
        config = workdir / "bridge.properties"
        config.write_text(f"omero.mail.broker.url={url}\nomero.mail.bridge.dsn={DSN}\n"
                          f"omero.mail.bridge.state={workdir / 'bridge-state.json'}\n"
                          f"omero.mail.bridge.log={workdir / 'Blitz-0.log'}\n")
        self.log = open(workdir / "bridge.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "consumer.admin.cli", "--config", str(config), "bridge", "--from-id", str(from_id),
             "--metrics-port", str(metrics_port)], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        self.state = workdir / "bridge-state.json"

    def wait_started(self) -> None:
        deadline = time.monotonic() + 30
        while not self.state.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the bridge did not start: see bridge.log")
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def steady_lag(url: str, conn: psycopg.Connection) -> list[float]:
    """Commit one row every 1/STEADY_RATE s; seconds from each commit to its event in RabbitMQ."""
    committed: dict[int, float] = {}
    arrived: dict[int, float] = {}
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, topo.EVENTS_EXCHANGE, "object.created")
    total = STEADY_RATE * STEADY_SECONDS

    def write() -> None:
        started = time.monotonic()
        for number in range(total):
            time.sleep(max(0.0, started + number / STEADY_RATE - time.monotonic()))
            [row_id] = write_images(conn, 1)
            committed[row_id] = time.time()

    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.monotonic() + STEADY_SECONDS + 30
    for _method, _props, body in channel.consume(queue, auto_ack=True, inactivity_timeout=1):
        if body is not None:
            arrived[json.loads(body)["data"]["eventlog_id"]] = time.time()
        if (len(arrived) >= total and not writer.is_alive()) or time.monotonic() > deadline:
            break
    writer.join()
    connection.close()
    return sorted(arrived[i] - committed[i] for i in committed if i in arrived)


def run(url: str, workdir: Path, metrics_port: int, line) -> None:
    fresh_database()
    try:
        with psycopg.connect(DSN) as conn:
            first = write_images(conn, PER_TRANSACTION)[0]
            for _ in range(CATCH_UP_ROWS // PER_TRANSACTION - 1):
                write_images(conn, PER_TRANSACTION)
            connection = pika.BlockingConnection(pika.URLParameters(url))
            connection.channel().queue_purge(topo.EVENTS_QUEUE)
            connection.close()
            started = time.time()
            bridge = BridgeProcess(url, workdir, metrics_port, from_id=first)
            try:
                while queue_depth(url, topo.EVENTS_QUEUE) < CATCH_UP_ROWS:
                    time.sleep(0.05)
                elapsed = time.time() - started
                cpu = cpu_seconds(bridge.process.pid)
                line(8, f"bridge catch-up ({CATCH_UP_ROWS:,} eventlog rows)",
                     f"{CATCH_UP_ROWS / elapsed:,.0f} events/s",
                     f"{elapsed:.1f} s incl. start; bridge CPU {1e6 * cpu / CATCH_UP_ROWS:,.0f} us/event; "
                     "target >= 5,000")
                connection = pika.BlockingConnection(pika.URLParameters(url))
                connection.channel().queue_purge(topo.EVENTS_QUEUE)
                connection.close()

                lags = steady_lag(url, conn)
                p50, p99 = statistics.median(lags), lags[int(0.99 * (len(lags) - 1))]
                line(9, f"bridge lag commit -> queue at {STEADY_RATE} rows/s", f"p50 {p50:.2f} / p99 {p99:.2f} s",
                     f"{len(lags)} rows; poll 1s (default); target p99 <= 2 s")

                queries, xacts = metric(metrics_port, "omero_mail_bridge_database_queries"), transactions(conn)
                time.sleep(IDLE_SECONDS)
                queries = metric(metrics_port, "omero_mail_bridge_database_queries") - queries
                xacts = transactions(conn) - xacts - 1  # less our own reading transaction
                line(10, "bridge load on an idle OMERO database", f"{queries / IDLE_SECONDS:.1f} queries/s",
                     f"{xacts / IDLE_SECONDS:.1f} transactions/s over {IDLE_SECONDS} s")
            finally:
                bridge.stop()
    finally:
        drop_database()
