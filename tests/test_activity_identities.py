"""The stages publish their activity reports as their own broker users, and an admin reads them,
on a real broker holding the generated permissions (as ``tests/test_identities.py`` sets it up)."""

from __future__ import annotations

import pytest

from consumer.admin.health import read_reports

from .conftest import wait_for
from .test_identities import accounts, people, site  # noqa: F401 - the fixtures of a site with its users

pytestmark = pytest.mark.private_broker


def test_each_stage_reports_as_its_own_broker_user_and_an_admin_reads_the_reports(site, make_service):  # noqa: F811
    for stage in ("rules", "delivery"):
        make_service((stage,), omero__mail__broker__url=site.url(stage), omero__mail__activity__interval="250ms",
                     **{k.replace(".", "__"): v for k, v in site.properties.items()})
    wait_for(lambda: {r.stages for r in read_reports(site.url("root"))} == {("rules",), ("delivery",)}, 15,
             interval=0.5, what="a report of each stage, read by an admin")
