"""The parking pages in a real browser, against the real consumer, RabbitMQ and an SMTP server.

An email the server refuses is found on the failed page with the server's reply, opened
whole, and replayed from the page (a count first, then the confirmation) once the server
takes it. Text an attacker chose (a web path, a comment, a subject) is shown as text and
never runs, in the failed lot or the invalid one.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from consumer.access.definitions import topology_for
from events import topology as topo
from events.broker import Message, Publisher, declare_topology
from senders.mail import Mail

from consumer import outcomes

from .conftest import wait_for
from .faults import RefusingHandler, parked
from .webapp import log_in, screenshot

REFUSED = {"root@example.org": "550 5.1.1 No such user"}
SCRIPT = "<script>document.title='pwned';window.pwned=1</script>"
IMG = "\"><img src=x id=injected onerror=\"document.title='pwned';window.pwned=1\">"


def shown(browser, element_id: str):
    """The element once the page that has it is loaded (a click does not wait for the next page)."""
    return WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located((By.ID, element_id)))


def logged_in(browser, app) -> None:
    """Logged in as an admin, the next page loaded (the login's click does not wait for it)."""
    log_in(browser, app)
    WebDriverWait(browser, 30).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".omero-mail-logout")))


@pytest.fixture
def refusing_smtp(start_smtp, make_service):
    """The consumer, mailing through an SMTP server that refuses root@example.org with 550."""
    server = start_smtp(RefusingHandler(REFUSED))
    make_service(omero__mail__port=str(server.port))
    return server


@pytest.fixture
def refused_login_mail(refusing_smtp, publish, props):
    """A failed login of root mails the admins: alice gets it, root's is refused and parked."""
    publish("login.failed", {"user": "root", "remote_addr": "192.0.2.7"})
    url = props["omero.mail.broker.url"]
    wait_for(lambda: len(parked(url)) == 1, what="root's mail parked")
    refusing_smtp.wait_for_messages(1)
    return refusing_smtp


def test_an_address_refused_with_550_is_on_the_failed_page_with_the_servers_reply(refused_login_mail, web_app,
                                                                                   browser):
    app = web_app()
    logged_in(browser, app)
    browser.get(app.page("parking/failed/"))
    [row] = browser.find_elements(By.CSS_SELECTOR, "table.omero-mail-parked tbody tr")
    assert "root@example.org" in row.text and "550 5.1.1 No such user" in row.text
    assert "failedLoginMailSender" in row.text
    screenshot(browser, "failed")


def test_a_parked_email_opens_whole_with_the_email_a_replay_would_send(refused_login_mail, web_app, browser):
    app = web_app()
    logged_in(browser, app)
    browser.get(app.page("parking/failed/"))
    browser.find_element(By.CSS_SELECTOR, "table.omero-mail-parked tbody a").click()
    assert shown(browser, "rcpt-to").text == "root@example.org"
    source = browser.find_element(By.ID, "source").text
    assert "To: root@example.org" in source and "Message-ID: <" in source
    assert "550 5.1.1 No such user" in browser.find_element(By.ID, "headers").text
    screenshot(browser, "parked")


def test_after_the_fix_a_replay_from_the_page_counts_first_then_delivers(refused_login_mail, web_app, browser,
                                                                          props):
    server = refused_login_mail
    [mail] = parked(props["omero.mail.broker.url"])
    server.handler.refuse.clear()
    app = web_app()
    logged_in(browser, app)
    browser.get(app.page("parking/failed/"))
    browser.find_element(By.CSS_SELECTOR, "input[name=key]").click()
    browser.find_element(By.ID, "replay-selected").click()
    question = shown(browser, "question").text
    assert question.startswith("Replay 1 of 1 message(s) from omero.mail.failed")
    assert len(parked(props["omero.mail.broker.url"])) == 1
    screenshot(browser, "replay-confirm")
    browser.find_element(By.ID, "confirm").click()
    assert shown(browser, "done").text == "Replayed 1 message(s)."
    messages = server.wait_for_messages(2)
    assert messages[-1]["To"] == "root@example.org" and messages[-1]["Message-ID"] == mail.message_id
    assert parked(props["omero.mail.broker.url"]) == []


def park_hostile_mail(props) -> None:
    """An email whose subject, web path and comment were chosen by an attacker, parked as the delivery stage parks."""
    url = props["omero.mail.broker.url"]
    declare_topology(url, topology_for(props))
    mail = Mail(message_id="<hostile@example.org>", event_id="2b0e5d1c-8e5e-4fad-8c22-3c58af2a1e87",
                event_type="comment.added", sender="newCommentMailSender", mail_from="omero@example.org",
                to="root@example.org", subject=f"{SCRIPT} {IMG}",
                text=f"path: /webclient/{IMG}\ncomment: {SCRIPT}\n")
    with Publisher(url) as publisher:
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.FAILED_KEY, mail.to_json(), mail.message_id, {
            outcomes.REASON: f"550 5.1.1 <{IMG}>: no such user {SCRIPT}", outcomes.ATTEMPTS: 1,
            outcomes.PARKED_AT: outcomes.now_iso(), outcomes.RECIPIENT: mail.to, outcomes.SENDER: IMG}))


def assert_inert(browser) -> None:
    """Nothing the attacker wrote became an element or ran; it is there as text."""
    assert "pwned" not in browser.title
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.find_elements(By.CSS_SELECTOR, "img") == []
    assert not browser.execute_script(
        "return Array.from(document.scripts).some(s => s.textContent.includes('pwned'))")
    assert "<script>document.title='pwned'" in browser.find_element(By.TAG_NAME, "main").text


def test_a_hostile_failed_email_renders_as_text_in_the_list_and_whole(props, web_app, browser):
    park_hostile_mail(props)
    app = web_app()
    logged_in(browser, app)
    browser.get(app.page("parking/failed/"))
    assert_inert(browser)
    browser.find_element(By.CSS_SELECTOR, "table.omero-mail-parked tbody a").click()
    subject = shown(browser, "subject")
    time.sleep(0.5)
    assert_inert(browser)
    assert IMG in subject.text


def invalid(publish, kind: str, data: dict) -> None:
    """An event the rules stage will refuse (its data is not valid), published as a hook would."""
    publish("x", raw=json.dumps({"id": str(uuid.uuid4()), "type": kind, "occurred_at": "2026-11-23T10:00:00+00:00",
                                 "data": data}).encode(), routing_key=kind)


def test_hostile_invalid_events_render_as_text_in_the_list_and_whole(make_service, publish, props, web_app,
                                                                      browser):
    make_service(stages=("rules",))
    invalid(publish, "web.error", {"status": 999, "method": "GET", "path": f"/webclient/{IMG}{SCRIPT}"})
    invalid(publish, "comment.added", {"comment_id": 1, "image_owner_id": 4, "commenter_id": 2,
                                       "text": f"{SCRIPT}{IMG}"})
    url = props["omero.mail.broker.url"]
    wait_for(lambda: len(parked(url, topo.INVALID_QUEUE)) == 2, what="both events parked as invalid")
    app = web_app()
    logged_in(browser, app)
    browser.get(app.page("parking/invalid/"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.omero-mail-parked tbody tr")) == 2
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "table.omero-mail-parked a")]
    for link in links:
        browser.get(link)
        time.sleep(0.5)
        assert_inert(browser)
        body = browser.find_element(By.ID, "body").text  # JSON: the quotes are escaped, the tags are not
        assert "<img src=x id=injected onerror=" in body and SCRIPT in body
