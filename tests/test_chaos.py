"""The chaos run's short form: about three minutes of "every message settles, whatever comes".

The whole system on a 3-node RabbitMQ cluster of its own, in production mode, under a
seeded schedule of faults (README, "Chaos run"); the checker then judges the history.
``make chaos`` is the long form (15 minutes of faults), ``python -m tests.chaos --seed N``
any seed. ``OMERO_MAIL_CHAOS_SEED`` picks this test's seed. Under CI a missing
``rabbitmq-server`` or PostgreSQL is a failure, never a skip.
"""

from __future__ import annotations

import os

import pytest

from tests.chaos.report import report
from tests.chaos.run import run
from tests.rabbitmq_nodes import scripts_dir
from tests.services import find_postgres_dsn, unavailable

SEED = int(os.environ.get("OMERO_MAIL_CHAOS_SEED", "20261207"))
#: Of faults; with the site's start, the quiet periods and the replay, about three minutes in all.
MINUTES = 1.25

pytestmark = pytest.mark.slow


def test_every_message_settles_whatever_comes(tmp_path):
    if scripts_dir() is None:
        unavailable("rabbitmq-server (for the chaos run's own cluster)")
    if find_postgres_dsn() is None:
        unavailable("PostgreSQL")
    result = run(SEED, MINUTES, tmp_path / "chaos")
    lines: list[str] = []
    report(result, out=lines.append)
    print("\n".join(lines))
    broken = [f"[{v.invariant}] {v.detail}" for v in result.verdict.violations]
    assert result.verdict.ok, f"seed {SEED}: {dict(result.verdict.broken)}\n" + "\n".join(broken)
