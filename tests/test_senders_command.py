"""``omero-mail senders``: lists the active senders; a broken file is one line and exit 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from consumer.admin.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_site_config(monkeypatch):
    monkeypatch.delenv("OMERODIR", raising=False)
    monkeypatch.setenv("OMERO_MAIL_CONFIG", "true")


def run(capsys, folder):
    code = main(["senders", "--dir", str(folder)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_example_lists_every_sender_with_event_recipients_and_subject(tmp_path, capsys):
    shutil.copy(ROOT / "etc" / "mail-senders.example", tmp_path / "mail-senders.xml")
    code, out, _ = run(capsys, tmp_path)
    assert code == 0
    assert "6 active sender(s) from 1 file(s)" in out
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert "login.failed" in lines["failedLoginMailSender"]
    assert "members of group system (on root)" in lines["failedLoginMailSender"]
    assert lines["newUserMailSender"].endswith("[OMERO] INSERT Experimenter notification")
    assert "the image owner" in lines["newCommentMailSender"]


def test_omeros_spring_file_lists_the_same_senders(tmp_path, capsys):
    shutil.copy(ROOT / "etc" / "mail-senders.example", tmp_path / "ours.xml")
    _, ours, _ = run(capsys, tmp_path)
    (tmp_path / "ours.xml").unlink()
    shutil.copy(ROOT / "senders" / "data" / "omero-mail-senders.example", tmp_path / "mail-senders.xml")
    _, spring, _ = run(capsys, tmp_path)
    assert sorted(ours.splitlines()[2:]) == sorted(spring.splitlines()[2:])


def test_an_empty_directory_lists_no_sender_while_mail_config_is_false(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMERO_MAIL_CONFIG", "false")
    code, out, _ = run(capsys, tmp_path)
    assert code == 0 and "0 active sender(s) from 0 file(s)" in out


@pytest.mark.parametrize("text, expected", [
    ('<mail-senders>\n<sender id="a" class="ServerUpMailSender">\n', ":3: malformed XML"),
    ('<mail-senders>\n<recipe id="a"/>\n</mail-senders>', ":2: unknown element <recipe>"),
    ('<mail-senders>\n<sender id="a" class="Pigeon"/>\n</mail-senders>',
     ":2: sender 'a': unknown sender class 'Pigeon'"),
    ('<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<mail-senders>&x;</mail-senders>',
     ":1: refused: EntitiesForbidden"),
])
def test_a_broken_file_exits_1_with_one_line_naming_file_and_line(tmp_path, capsys, text, expected):
    path = tmp_path / "broken.xml"
    path.write_text(text)
    code, out, err = run(capsys, tmp_path)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and f"{path}{expected}" in err


def test_with_omerodir_the_senders_are_read_from_its_etc_blitz_whatever_the_working_directory(
        tmp_path, capsys, monkeypatch):
    """OMERO reads its sender beans from etc/blitz/*.xml under OMERODIR (ome.services.mail)."""
    blitz = tmp_path / "omero" / "etc" / "blitz"
    blitz.mkdir(parents=True)
    shutil.copy(ROOT / "etc" / "mail-senders.example", blitz / "mail-senders.xml")
    monkeypatch.setenv("OMERODIR", str(tmp_path / "omero"))
    monkeypatch.chdir(tmp_path)
    code = main(["senders"])
    out, _ = capsys.readouterr()
    assert code == 0 and f"6 active sender(s) from 1 file(s) in {blitz}" in out


def test_a_missing_senders_directory_is_one_line_and_exit_1(tmp_path, capsys):
    code, out, err = run(capsys, tmp_path / "nowhere")
    assert code == 1 and out == ""
    assert err.splitlines() == [f"omero-mail: error: senders directory {tmp_path / 'nowhere'} does not exist "
                                "(omero.mail.senders.dir, by default $OMERODIR/etc/blitz)"]


def test_no_active_sender_while_mail_config_is_true_is_one_line_and_exit_1(tmp_path, capsys):
    shutil.copy(ROOT / "etc" / "mail-senders.example", tmp_path / "mail-senders.example")
    code, _, err = run(capsys, tmp_path)
    assert code == 1 and len(err.splitlines()) == 1 and "no active sender in" in err


def test_consume_says_how_many_senders_it_loaded_and_from_where(props, senders_dir, caplog):
    from consumer.stages.service import Service

    with caplog.at_level("INFO", logger="consumer.stages.service"):
        Service(props, ("rules",))
    assert f"6 senders loaded from {senders_dir}" in caplog.messages


def test_consume_refuses_to_start_without_an_active_sender_while_mail_config_is_true(props, tmp_path):
    from consumer.stages.service import Service
    from events.config import ConfigError

    props.update({"omero.mail.senders.dir": str(tmp_path / "empty")}, "test")
    with pytest.raises(ConfigError, match="does not exist"):
        Service(props, ("rules",))
