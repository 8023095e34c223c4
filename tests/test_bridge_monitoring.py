"""The bridge's /metrics and /healthz, and README's grants being the ones the tests use."""

from __future__ import annotations

import json
import re
import urllib.request

from .bridge_helpers import start_bridge, write_properties
from .conftest import ROOT, wait_for
from .omero_db import BRIDGE_TABLES
from .services import free_port


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_count_events_by_type_and_health_says_active_and_caught_up(omero_db, bridge_props, tmp_path):
    port = free_port()
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    bridge = start_bridge(config, "--metrics-port", str(port), log=tmp_path / "bridge.log")
    try:
        wait_for((tmp_path / "bridge-state.json").exists, 30, what="the bridge to start")
        with omero_db.transaction() as tx:
            tx.new_group("metered")
        published = 'omero_mail_bridge_events_published_total{type="object.created"} 1.0'
        wait_for(lambda: published in get(port, "/metrics")[1], 30, what="the published event in /metrics")
        metrics = get(port, "/metrics")[1]
        assert "omero_mail_bridge_active 1.0" in metrics
        assert "omero_mail_bridge_lag_rows 0.0" in metrics
        assert float(re.search(r"^omero_mail_bridge_database_queries_total (\S+)$", metrics, re.M)[1]) > 0
        status, body = get(port, "/healthz")
        assert status == 200
        assert json.loads(body)["role"] == "active" and json.loads(body)["lag_rows"] == 0
    finally:
        bridge.terminate()
        assert bridge.wait(30) == 0


def test_readme_grants_the_bridge_exactly_the_tables_the_tests_grant():
    readme = (ROOT / "README.rst").read_text()
    [grant] = re.findall(r"GRANT SELECT ON ([a-z_, ]+) TO omero_mail;", readme)
    assert [table.strip() for table in grant.split(",")] == list(BRIDGE_TABLES)
