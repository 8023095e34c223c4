"""Review: a broadcast with a big body is not held by the rules stage a thousand copies at a time.

Found by review: the rules stage builds a broadcast's outbox messages a slice of 1,000 at a
time, each carrying the whole body (text and HTML). A message of 2 MB of HTML, which the
Email page accepts (Django's form limit is 2.5 MB) and the command accepts with no limit at
all, to 1,000 users made 4 GB in the rules stage's memory for one slice, and the event is
given back and planned again if the stage dies. Now a slice also ends at
``consumer.stages.worker.SLICE_BYTES``.

Not fixed, and said in the report: every recipient's outbox message still carries the whole
body, so RabbitMQ holds body x recipients until they are sent.
"""

from __future__ import annotations

import tracemalloc

import pytest

from events import topology as topo
from events.broker import queue_depths

from .conftest import wait_for, write_directory

USERS = 120
#: One megabyte of HTML, as a pasted page with an inline picture makes.
HTML = "<p>" + "word " * 200_000 + "</p>"


@pytest.mark.private_broker
def test_a_broadcast_of_a_megabyte_to_120_users_is_planned_in_bounded_memory(props, make_service, publish, tmp_path):
    people = write_directory(tmp_path / "people.json", [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
        *[{"id": 100 + n, "omeName": f"user{n}", "email": f"user{n}@example.org", "groups": ["user"]}
          for n in range(USERS)],
    ], [{"id": 0, "name": "system"}, {"id": 1, "name": "user"}])
    make_service(stages=("rules",), omero__mail__directory__file=str(people),
                 **{"omero__mail__broadcast__max-bytes": "0"})
    url = props["omero.mail.broker.url"]
    tracemalloc.start()
    try:
        publish("admin.broadcast", {"subject": "S", "body": "B", "html": HTML, "everyone": True,
                                    "requested_by": "root"})
        wait_for(lambda: queue_depths(url, [topo.OUTBOX_QUEUE])[topo.OUTBOX_QUEUE] >= USERS + 1, 120,
                 what="every email in the outbox")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 120_000_000, f"{peak / 1e6:.0f} MB at the peak"
