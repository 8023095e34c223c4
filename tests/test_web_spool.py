"""The OMERO.web spool file: the web user's alone, never another user's file, and nothing left out.

The events are reported through the hooks' own ``publish`` with a broker that is down (a
port nothing listens on), so each one goes to the spool file, as it would on a site.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile

import django
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.webproject.settings")
django.setup()

from django.test import override_settings  # noqa: E402

from events.web import publish  # noqa: E402

from .conftest import wait_for  # noqa: E402
from .services import free_port  # noqa: E402

ERROR = {"status": 404, "method": "GET", "path": "/missing/", "subject": "Broken link on testserver",
         "body": "Referrer: http://testserver/page/\n"}
#: A user other than the web process's, as another local account would be.
NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a file of another user needs root")


@pytest.fixture(autouse=True)
def broker_down():
    with override_settings(OMERO_MAIL_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F",
                           OMERO_MAIL_PUBLISH_TIMEOUT=1.0):
        yield
    publish.stop()


@pytest.fixture
def shared_tmp(tmp_path, monkeypatch):
    """The temporary directory every local user may write to, as /tmp is."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    return shared


def report(spool: str = "", data: dict | None = None) -> None:
    with override_settings(OMERO_MAIL_SPOOL=spool):
        publish.publish(dict(data or ERROR))


def spooled(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_for_log(caplog, words: str) -> str:
    wait_for(lambda: any(words in r.getMessage() for r in caplog.records), timeout=30,
             what=f"a log line with {words!r}")
    return next(r.getMessage() for r in caplog.records if words in r.getMessage())


def test_the_default_spool_file_is_in_a_private_directory_of_the_web_user(shared_tmp):
    report()
    directory = shared_tmp / f"omero-mail-web-{os.geteuid()}"
    wait_for(lambda: any(directory.glob("*")), timeout=30, what="the spool file")
    [path] = directory.iterdir()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700 and directory.stat().st_uid == os.geteuid()
    assert [event["data"]["path"] for event in spooled(path)] == ["/missing/"]


def test_the_spool_file_is_readable_by_the_web_user_alone_whatever_the_umask(tmp_path):
    path = tmp_path / "spool.jsonl"
    old = os.umask(0o022)
    try:
        report(str(path))
        wait_for(path.exists, timeout=30, what="the spool file")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@needs_root
def test_a_spool_file_another_user_made_first_is_left_alone_and_the_loss_logged(tmp_path, caplog):
    path = tmp_path / "spool.jsonl"
    path.write_text("theirs\n")
    os.chown(path, NOBODY, NOBODY)
    report(str(path))
    line = wait_for_log(caplog, "lost")
    assert path.read_text() == "theirs\n"
    assert f"belongs to uid {NOBODY}" in line


def test_a_symbolic_link_in_place_of_the_spool_file_is_not_followed(tmp_path, caplog):
    target = tmp_path / "elsewhere"
    target.write_text("")
    (tmp_path / "spool.jsonl").symlink_to(target)
    report(str(tmp_path / "spool.jsonl"))
    assert "symbolic link" in wait_for_log(caplog, "lost")
    assert target.read_text() == ""


@needs_root
def test_a_default_spool_directory_another_user_made_first_is_refused(shared_tmp, caplog):
    theirs = shared_tmp / f"omero-mail-web-{os.geteuid()}"
    theirs.mkdir(mode=0o777)
    os.chown(theirs, NOBODY, NOBODY)
    report()
    assert f"belongs to uid {NOBODY}" in wait_for_log(caplog, "lost")
    assert list(theirs.iterdir()) == []


def test_a_default_spool_directory_that_is_a_symbolic_link_is_refused(shared_tmp, tmp_path, caplog):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (shared_tmp / f"omero-mail-web-{os.geteuid()}").symlink_to(elsewhere)
    report()
    assert "symbolic link" in wait_for_log(caplog, "lost")
    assert list(elsewhere.iterdir()) == []


@needs_root
def test_a_configured_spool_file_in_a_directory_of_another_user_is_refused(tmp_path, caplog):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o777)
    os.chown(theirs, NOBODY, NOBODY)
    report(str(theirs / "spool.jsonl"))
    assert "spool directory" in wait_for_log(caplog, "lost")
    assert not (theirs / "spool.jsonl").exists()


def test_an_event_that_fails_validation_is_spooled_with_its_reason_logged(tmp_path, caplog):
    path = tmp_path / "spool.jsonl"
    with caplog.at_level(logging.WARNING, logger="events.web"):
        report(str(path), {**ERROR, "status": 418})
        line = wait_for_log(caplog, "spooled")
    [event] = spooled(path)
    assert event["type"] == "web.error" and event["data"]["status"] == 418 and event["id"] in line
    assert "status" in line
