"""Figures 11-12 of ``make bench``: the fan-out and the many events on a three-node cluster.

The cluster is started for the run from the machine's ``rabbitmq-server``
(``tests/rabbitmq_nodes.py``: private nodes on free ports, data in the run's temporary
directory), on the same two CPUs as the single node of figures 3 and 4. The consumer is
given all three addresses, so its queues are quorum queues (``omero.mail.queue.type``
``auto``), and is connected to the first node; each figure is printed next to the single
node's from the same run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from events.broker import Publisher
from events.schemas import new_event

from tests.rabbitmq_nodes import start_cluster

VHOST = "omero-mail-bench"


def run(workdir: Path, sink, line: Callable, consumer_process: Callable, write_site: Callable,
        as_message: Callable, comment: Callable, users: int, many: int, single: dict[str, float]) -> None:
    with start_cluster(workdir / "cluster", 3) as cluster:
        cluster.seed.ctl("add_vhost", VHOST)
        cluster.seed.ctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
        url = "amqp://guest:guest@" + ",".join(f"127.0.0.1:{n.amqp_port}" for n in cluster.nodes) + f"/{VHOST}"
        folder = workdir / "cluster-site"
        folder.mkdir()
        consumer = consumer_process(write_site(folder, sink.port, url), workdir / "cluster-consumer.log", url)
        try:
            consumer.wait_connected()
            with Publisher(url) as publisher:
                started = time.time()
                publisher.publish(as_message(new_event("admin.broadcast", {
                    "subject": "Maintenance tonight", "body": "OMERO stops at 22:00.", "everyone": True,
                    "requested_by": "root"}, source="bench")))
                finished = sink.wait_for(users)
                sink.take()
                fanout = users / (finished - started)
                line(11, f"3-node cluster, quorum: fan-out to {users:,}", f"{fanout:,.0f} mails/s",
                     f"{finished - started:.1f} s; single node (3) x {fanout / single['fanout']:.2f}")
                events = [as_message(comment(n % users + 1, n)) for n in range(many)]
                started = time.time()
                publisher.publish_many(events)
                finished = sink.wait_for(many)
                sink.take()
                rate = many / (finished - started)
                line(12, f"3-node cluster, quorum: {many:,} comment.added", f"{rate:,.0f} mails/s",
                     f"{finished - started:.1f} s; single node (4) x {rate / single['many']:.2f}")
        finally:
            consumer.stop()
