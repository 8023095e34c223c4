"""The Email page: ``omero admin email`` in the browser, queued, followed to its end, surviving a logout."""

from __future__ import annotations

import html
import json
import re

import pytest

from events import topology as topo
from events.broker import declare_topology, queue_depths

from .conftest import take_all, wait_for, write_directory
from .faults import SlowHandler
from .webapp import Client, log_in, screenshot

#: How many members the group "many" has, each with an address: enough for a slow server to take a while.
MANY = 12


@pytest.fixture
def people(tmp_path):
    members = [{"id": 100 + n, "omeName": f"member{n}", "firstName": "Member", "lastName": str(n),
                "email": f"member{n}@example.org", "groups": ["user", "many"]} for n in range(MANY)]
    return write_directory(tmp_path / "people.json", [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
        {"id": 2, "omeName": "alice", "email": "alice@example.org", "groups": ["system", "user"]},
        {"id": 4, "omeName": "carol", "firstName": "Carol", "lastName": "Lab", "email": "carol@example.org",
         "groups": ["user", "lab"]},
        {"id": 5, "omeName": "dave", "email": "dave@example.org", "groups": ["lab"]},
        {"id": 6, "omeName": "erin", "email": None, "groups": ["user", "lab"]},
        *members,
    ], [{"id": 0, "name": "system"}, {"id": 1, "name": "user"}, {"id": 2, "name": "guest"}, {"id": 3, "name": "lab"},
        {"id": 7, "name": "many"}])


@pytest.fixture
def site(props, people, web_app):
    """The web app on the test's broker, the topology declared, no consumer yet."""
    declare_topology(props["omero.mail.broker.url"], topo.from_properties(props))
    return web_app(omero__mail__directory__file=str(people), omero__mail__broadcast__from="news@example.org")


def events_queued(props) -> list[dict]:
    return [json.loads(body) for _, body in take_all(props["omero.mail.broker.url"], topo.EVENTS_QUEUE)]


def compose(client: Client, **fields) -> tuple[int, dict, str]:
    return client.post("email/", {"subject": "Maintenance", "message": "Down at noon", **fields}, token_from="email/")


def on_the_email_page(browser, site) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, site)
    wait_for(lambda: browser.find_elements(By.ID, "id_groups"), what="the Email page")


def state_of(browser) -> str:
    """The broadcast page's state, or "" while that page is not there yet."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return browser.find_element(By.ID, "state").get_attribute("data-state") or ""
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def shown(page: str) -> str:
    return html.unescape(page)


def test_the_email_page_offers_the_directorys_users_and_groups_and_the_allowed_from(site):
    client = Client(site)
    client.login()
    status, _, page = client.get("email/")
    assert status == 200
    assert '<option value="4">Carol Lab (carol)</option>' in page
    assert '<option value="5">dave - Inactive</option>' in page
    assert '<option value="3">lab</option>' in page
    assert '<option value="news@example.org">news@example.org</option>' in page


def test_a_submitted_broadcast_is_queued_once_and_the_page_goes_at_once_to_its_progress(site, props):
    client = Client(site)
    client.login()
    status, headers, _ = compose(client, groups=["3"], cc="x@example.org", bcc="z@example.org", html="on",
                                 message="<p>Down at <b>noon</b></p>", mail_from="news@example.org")
    assert status == 302
    event_id = re.fullmatch(r"/broadcasts/([0-9a-f-]{36})/", headers["Location"]).group(1)
    [event] = events_queued(props)
    assert event["id"] == event_id
    assert {k: event["data"][k] for k in ("group_ids", "cc", "bcc", "requested_by", "mail_from", "html", "body")} == {
        "group_ids": [3], "cc": ["x@example.org"], "bcc": ["z@example.org"], "requested_by": "root",
        "mail_from": "news@example.org", "html": "<p>Down at <b>noon</b></p>", "body": "Down at noon\n"}


def test_a_hand_made_post_cannot_name_another_sender(site, props):
    client = Client(site)
    client.login()
    status, _, _ = compose(client, everyone="on", requested_by="alice", as_user="alice", omero_session="forged")
    assert status == 302
    [event] = events_queued(props)
    assert event["data"]["requested_by"] == "root"
    assert "omero_session" not in event["data"]


def test_a_compose_without_recipients_shows_omeros_message_and_queues_nothing(site, props):
    client = Client(site)
    client.login()
    status, _, page = compose(client)
    assert status == 400 and "ApiUsageException:No recipients specified." in shown(page)
    assert queue_depths(props["omero.mail.broker.url"], [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 0


def test_a_bad_cc_address_is_refused_and_queues_nothing(site, props):
    client = Client(site)
    client.login()
    status, _, page = compose(client, everyone="on", cc="x@example.org, not-an-address")
    assert status == 400 and "Cc: not an email address: 'not-an-address'" in shown(page)
    assert 'value="x@example.org, not-an-address"' in page  # the form keeps what was typed
    assert queue_depths(props["omero.mail.broker.url"], [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 0


def test_a_message_over_the_size_limit_is_refused_on_the_page_and_queues_nothing(props, people, web_app):
    declare_topology(props["omero.mail.broker.url"], topo.from_properties(props))
    client = Client(web_app(omero__mail__directory__file=str(people), **{"omero__mail__broadcast__max-bytes": "100"}))
    client.login()
    status, _, page = compose(client, everyone="on", message="x" * 101)
    assert status != 302 and "omero.mail.broadcast.max-bytes allows 100" in shown(page)
    assert events_queued(props) == []


def test_an_empty_subject_is_omeros_no_subject(site, props):
    client = Client(site)
    client.login()
    status, _, page = compose(client, everyone="on", subject="  ")
    assert status == 400
    assert ["Failed to send emails:", "ApiUsageException:Email must contain subject. (the subject is empty)"] == [
        line for line in re.findall(r"<div>([^<]*)</div>", shown(page))]


def test_a_from_address_not_allowed_is_refused(site, props):
    client = Client(site)
    client.login()
    status, _, page = compose(client, everyone="on", mail_from="boss@example.org")
    assert status == 400 and "'boss@example.org' is not allowed" in shown(page)


def test_unknown_users_are_omeros_lines_on_the_broadcasts_page_and_the_rest_is_queued(site, props):
    client = Client(site)
    client.login()
    status, headers, _ = compose(client, experimenters=["99", "2"])
    assert status == 302
    assert events_queued(props)[0]["data"]["user_ids"] == [2]
    assert "Unknown user: 99" in client.get(headers["Location"])[2]


def test_compose_a_broadcast_to_a_group_in_the_browser_and_watch_it_to_its_end(site, make_service, people, browser,
                                                                             smtp_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    make_service(omero__mail__directory__file=str(people))
    on_the_email_page(browser, site)
    Select(browser.find_element(By.ID, "id_groups")).select_by_visible_text("lab")
    browser.find_element(By.ID, "id_cc").send_keys("x@example.org, y@example.org")
    browser.find_element(By.ID, "id_bcc").send_keys("z@example.org")
    browser.find_element(By.ID, "id_subject").send_keys("Maintenance tonight")
    browser.find_element(By.ID, "id_message").send_keys("OMERO stops at 22:00.")
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "email")
    browser.find_element(By.ID, "send").click()
    wait_for(lambda: state_of(browser) == "finished", 30, what="the bar to reach its end")
    bar = browser.find_element(By.ID, "bar")
    assert bar.get_attribute("aria-valuenow") == bar.get_attribute("aria-valuemax") == "3"
    summary = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#summary li")]
    assert summary == ["Successfully sent 3 of 3 emails", "1 users had no email address"]
    screenshot(browser, "broadcast")
    # carol (the lab's one active member with an address), one copy for Cc, one for Bcc.
    assert sorted(r for received in smtp_server.received for r in received.rcpt_tos) == [
        "carol@example.org", "x@example.org", "y@example.org", "z@example.org"]
    copy = next(m for m in smtp_server.messages if m["To"] == "x@example.org")
    assert copy["Cc"] == "y@example.org" and copy["Subject"] == "Maintenance tonight"
    for received in smtp_server.received:
        if received.rcpt_tos != ["z@example.org"]:
            assert b"z@example.org" not in received.data
    assert all(m["Bcc"] is None for m in smtp_server.messages)


def test_logging_out_mid_send_stops_no_email(site, make_service, people, browser, start_smtp):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    # 1.5 s a mail until the logout (18 s for the group), so the page is seen sending however slowly the
    # browser shows it; then quicker (an SMTP reply slower than the stage's timeout would be a retry).
    pace = SlowHandler(delay=1.5)
    slow = start_smtp(pace)
    make_service(omero__mail__directory__file=str(people), omero__mail__port=str(slow.port),
                 omero__mail__delivery__connections="1")
    on_the_email_page(browser, site)
    Select(browser.find_element(By.ID, "id_groups")).select_by_visible_text("many")
    browser.find_element(By.ID, "id_subject").send_keys("S")
    browser.find_element(By.ID, "id_message").send_keys("B")
    browser.find_element(By.ID, "send").click()
    wait_for(lambda: state_of(browser) == "sending", 30, what="the broadcast to be sending")
    sent_before = len(slow.received)
    assert sent_before < MANY
    browser.find_element(By.CSS_SELECTOR, ".omero-mail-logout button").click()
    wait_for(lambda: "/login/" in browser.current_url, what="the login page")
    pace.delay = 0.1
    slow.wait_for_messages(MANY, timeout=60)
    assert sorted(r for received in slow.received for r in received.rcpt_tos) == sorted(
        f"member{n}@example.org" for n in range(MANY))


def test_stopping_the_web_app_mid_send_stops_no_email(site, make_service, people, start_smtp):
    slow = start_smtp(SlowHandler(delay=0.4))
    make_service(omero__mail__directory__file=str(people), omero__mail__port=str(slow.port),
                 omero__mail__delivery__connections="1")
    client = Client(site)
    client.login()
    assert compose(client, groups=["7"])[0] == 302
    wait_for(lambda: slow.received, 20, what="the first email")
    site.process.terminate()
    site.process.wait(10)
    slow.wait_for_messages(MANY, timeout=60)
    assert sorted(r for received in slow.received for r in received.rcpt_tos) == sorted(
        f"member{n}@example.org" for n in range(MANY))


def test_inside_omero_web_a_broadcast_carries_the_admins_session_proof_tied_to_it(props, omero_web_on):
    from events.schemas import load_event
    from events.session_proof import FIELD, event_proof, session_proof

    from .test_web_inside_omero_web import logged_in

    declare_topology(props["omero.mail.broker.url"], topo.from_properties(props))
    session = "6f1c0d2e-8b3a-4c5d-9e7f-0a1b2c3d4e5f"
    client = logged_in(omero_web_on(props), "root", admin=True, session=session)
    status, headers, _ = client.post("omero_mail/email/", {"everyone": "on", "subject": "S", "message": "B",
                                                           "requested_by": "alice"}, token_from="omero_mail/email/")
    assert status == 302 and headers["Location"].startswith("/omero_mail/broadcasts/")
    [(_, body)] = take_all(props["omero.mail.broker.url"], topo.EVENTS_QUEUE)
    event = load_event(body)
    assert event.data["requested_by"] == "root"
    assert event.data[FIELD] == event_proof(session_proof(session), event)
