"""The Senders page: the rules the consumer would load, from its files, or the one line that stops it."""

from __future__ import annotations

import html
import re

from selenium.webdriver.common.by import By

from consumer.admin.cli import main

from .test_web_parking import logged_in
from .webapp import Client, screenshot


def test_the_senders_page_lists_the_example_senders_with_their_events_and_recipients(web_app, browser, senders_dir):
    app = web_app()
    logged_in(browser, app)
    browser.get(app.page("senders/"))
    assert browser.find_element(By.ID, "summary").text.startswith(
        f"6 active sender(s) from 1 file(s) in {senders_dir}")
    rows = {row.find_elements(By.TAG_NAME, "td")[0].text: row.text
            for row in browser.find_elements(By.CSS_SELECTOR, "#senders tbody tr")}
    assert len(rows) == 6
    assert "login.failed" in rows["failedLoginMailSender"]
    assert "members of group system (on root)" in rows["failedLoginMailSender"]
    assert "the image owner" in rows["newCommentMailSender"]
    screenshot(browser, "senders")


def test_a_broken_senders_file_shows_the_one_line_the_command_prints(web_app, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "broken-senders"
    folder.mkdir()
    (folder / "mail-senders.xml").write_text('<mail-senders>\n<sender id="a" class="Pigeon"/>\n</mail-senders>')
    monkeypatch.setenv("OMERO_MAIL_CONFIG", "true")
    assert main(["senders", "--dir", str(folder)]) == 1
    [printed] = capsys.readouterr().err.splitlines()
    client = Client(web_app(omero__mail__senders__dir=str(folder)))
    client.login()
    status, _, page = client.get("senders/")
    [shown] = re.findall(r'<p class="red-line error" role="alert" id="problem">([^<]*)</p>', page)
    assert status == 200 and printed == f"omero-mail: error: {html.unescape(shown)}"
    assert f"{folder / 'mail-senders.xml'}:2: sender 'a': unknown sender class 'Pigeon'" in printed


def test_with_omero_mail_config_false_the_page_says_the_senders_send_nothing(web_app):
    client = Client(web_app(omero__mail__config="false"))
    client.login()
    _, _, page = client.get("senders/")
    assert 'id="mail-config"' in page and "6 active sender(s)" in page
