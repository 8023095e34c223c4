"""README's bridge quick start, as written, mails OMERO's admins: the directory is OMERO's own.

A consumer set up for OMERO's database (``omero.db.*`` from OMERO's config, or a bridge
or directory DSN) and given no directory of its own reads OMERO's ``experimenter``
tables; it says at start which directory it reads; and a mail that finds nobody with an
address is a WARNING, not an INFO line nobody reads.
"""

from __future__ import annotations

import logging
import shutil

from consumer.stages.service import Service
from events.config import Properties, load
from events.settings import directory_settings
from psycopg.conninfo import conninfo_to_dict

from .bridge_helpers import start_bridge, write_properties
from .conftest import RunningService, wait_for, write_directory
from .test_bridge_e2e import OMERO_SPRING_FILE


def from_file(tmp_path, values: dict[str, str]) -> Properties:
    """Properties as the admin gives them: a file over the built-in defaults."""
    path = tmp_path / "site.properties"
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return load(config_files=[path], environ={})


def test_with_omeros_database_configured_and_no_directory_set_the_directory_is_omeros(tmp_path):
    settings = directory_settings(from_file(tmp_path, {"omero.db.host": "db.example.org", "omero.db.name": "omero5"}))
    assert settings.backend == "postgres"
    assert conninfo_to_dict(settings.dsn)["host"] == "db.example.org"


def test_the_bridges_dsn_is_the_directorys_when_the_directory_has_none(tmp_path):
    dsn = "host=db dbname=omero user=omero_mail"
    settings = directory_settings(from_file(tmp_path, {"omero.mail.bridge.dsn": dsn}))
    assert (settings.backend, settings.dsn) == ("postgres", dsn)


def test_a_directory_file_or_an_explicit_backend_wins(tmp_path):
    assert directory_settings(from_file(tmp_path, {"omero.db.host": "db", "omero.mail.directory.file": "people.json"})
                              ).backend == "json"
    assert directory_settings(from_file(tmp_path, {"omero.db.host": "db", "omero.mail.directory.backend": "json"})
                              ).backend == "json"


def test_with_nothing_about_omeros_database_the_directory_is_the_embedded_one(tmp_path):
    assert directory_settings(from_file(tmp_path, {"omero.mail.host": "smtp.example.org"})).backend == "json"


def test_the_readme_quick_start_mails_the_admins_from_omeros_own_tables(
        omero_db, bridge_props, amqp_url, smtp_server, tmp_path, caplog):
    senders = tmp_path / "omero-senders"
    senders.mkdir()
    shutil.copy(OMERO_SPRING_FILE, senders / "mail-senders.xml")
    omero_db.set_email(0, "root@example.org")
    db = conninfo_to_dict(omero_db.dsn)
    # What OMERO's config.xml gives a consumer beside OMERO: its database and its mail settings.
    props = from_file(tmp_path, {
        "omero.db.host": db["host"], "omero.db.port": db.get("port", "5432"), "omero.db.name": db["dbname"],
        "omero.db.user": db["user"], "omero.mail.config": "true", "omero.mail.host": "127.0.0.1",
        "omero.mail.port": str(smtp_server.port), "omero.mail.from": "omero@example.org",
        "omero.mail.broker.url": amqp_url, "omero.mail.senders.dir": str(senders)})
    caplog.set_level(logging.INFO)
    consumer = RunningService(Service(props)).start()
    bridge = start_bridge(write_properties(bridge_props, tmp_path / "bridge.properties"), log=tmp_path / "bridge.log")
    try:
        assert any(f"directory: OMERO's database postgresql {db['user']}@{db['host']}" in r.getMessage()
                   for r in caplog.records)
        wait_for((tmp_path / "bridge-state.json").exists, 30, what="the bridge to start")
        with omero_db.transaction() as tx:
            tx.new_experimenter("dora", "dora@example.org")
        [mail] = smtp_server.wait_for_messages(1, timeout=30)
        assert (mail["To"], mail["Subject"]) == ("root@example.org", "[OMERO] INSERT Experimenter notification")
    finally:
        bridge.terminate()
        bridge.wait(30)
        consumer.stop()


def test_a_mail_that_finds_nobody_with_an_address_is_a_warning(make_service, publish, tmp_path, caplog):
    nobody = write_directory(tmp_path / "nobody.json", [
        {"id": 0, "omeName": "root", "email": None, "groups": ["system", "user"]}])
    caplog.set_level(logging.INFO)
    make_service(omero__mail__directory__file=str(nobody))
    publish("server.startup", {"server": "OMERO.blitz"})
    wait_for(lambda: any("without email" in r.getMessage() for r in caplog.records), 30, what="the plan")
    [record] = [r for r in caplog.records if "without email" in r.getMessage()]
    assert record.levelname == "WARNING" and "0 email(s)" in record.getMessage()
