"""The standalone app's settings that are plain logic: the time zone its pages show."""

from __future__ import annotations

from pathlib import Path

from consumer.admin.web.standalone import local_zone


def test_pages_show_times_in_the_zone_tz_names(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Paris")
    assert local_zone() == "Europe/Paris"


def test_a_tz_that_names_no_zone_falls_back_to_utc_not_to_djangos_chicago(monkeypatch):
    monkeypatch.setenv("TZ", "Nowhere/Bogus")
    assert local_zone() == "UTC"


def test_without_tz_the_machines_own_zone_is_used(monkeypatch):
    monkeypatch.delenv("TZ", raising=False)
    linked = str(Path("/etc/localtime").resolve())
    assert local_zone() == (linked.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in linked else "UTC")
