"""``omero-mail senders``: lists the active senders; a broken file is one line and exit 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from consumer.cli import main

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


def test_an_empty_directory_lists_no_sender(tmp_path, capsys):
    code, out, _ = run(capsys, tmp_path)
    assert code == 0 and "0 active sender(s) from 0 file(s)" in out


@pytest.mark.parametrize("text, expected", [
    ('<mail-senders>\n<sender id="a" class="ServerUpMailSender">\n', ":3: malformed XML"),
    ('<mail-senders>\n<recipe id="a"/>\n</mail-senders>', ":2: unknown element <recipe>"),
    ('<mail-senders>\n<sender id="a" class="Pigeon"/>\n</mail-senders>', ":2: sender 'a': unknown sender class 'Pigeon'"),
    ('<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<mail-senders>&x;</mail-senders>',
     ":1: refused: EntitiesForbidden"),
])
def test_a_broken_file_exits_1_with_one_line_naming_file_and_line(tmp_path, capsys, text, expected):
    path = tmp_path / "broken.xml"
    path.write_text(text)
    code, out, err = run(capsys, tmp_path)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and f"{path}{expected}" in err
