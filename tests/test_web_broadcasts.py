"""The broadcasts page and a broadcast's progress: ``broadcast status``, in the browser."""

from __future__ import annotations

import html
import json
import re
import uuid

import pika
import pytest

from consumer.admin import results
from events import topology as topo
from events.broker import Publisher, declare_topology

from .conftest import wait_for, write_directory
from .faults import RefusingHandler
from .webapp import Client, log_in, screenshot


@pytest.fixture
def people(tmp_path):
    return write_directory(tmp_path / "people.json", [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
        {"id": 4, "omeName": "carol", "email": "carol@example.org", "groups": ["user", "lab"]},
        {"id": 5, "omeName": "dave", "email": "dave@example.org", "groups": ["user", "lab"]},
    ], [{"id": 0, "name": "system"}, {"id": 1, "name": "user"}, {"id": 3, "name": "lab"}])


@pytest.fixture
def site(props, people, web_app):
    declare_topology(props["omero.mail.broker.url"], topo.from_properties(props))
    return web_app(omero__mail__directory__file=str(people))


@pytest.fixture
def client(site) -> Client:
    client = Client(site)
    client.login()
    return client


def compose(client: Client, **fields) -> str:
    """Queue a broadcast from the Email page; its ID."""
    status, headers, _ = client.post("email/", {"subject": "Maintenance", "message": "Down at noon", **fields},
                                     token_from="email/")
    assert status == 302, headers
    return headers["Location"].split("/")[2]


def progress(client: Client, event_id: str, follow: bool = True) -> dict:
    status, _, body = client.get(f"broadcasts/{event_id}/progress" + ("" if follow else "?follow=0"))
    assert status == 200, body
    return json.loads(body)


def finished(client: Client, event_id: str, follow: bool = True) -> dict:
    return wait_for(lambda: (p := progress(client, event_id, follow))["finished"] and p, 30,
                    what="the broadcast to finish")


def test_progress_follows_a_broadcast_to_omeros_summary(make_service, people, client):
    make_service(omero__mail__directory__file=str(people))
    event_id = compose(client, groups=["3"])
    done = finished(client, event_id)
    assert (done["state"], done["total"], done["sent"], done["failed"]) == ("finished", 2, 2, 0)
    assert done["summary"] == ["Successfully sent 2 of 2 emails"]
    assert done["queued"]["requested_by"] == "root" and done["queued"]["recipients"] == "groups lab (#3)"
    assert sorted(e["recipient"] for e in done["emails"]) == ["carol@example.org", "dave@example.org"]


def test_a_refused_address_shows_as_failed_with_the_smtp_servers_reply(make_service, people, client, start_smtp):
    refusing = start_smtp(RefusingHandler({"carol@example.org": "550 5.1.1 No such user here"}))
    make_service(omero__mail__directory__file=str(people), omero__mail__port=str(refusing.port))
    event_id = compose(client, groups=["3"])
    done = finished(client, event_id)
    assert done["summary"] == ["Successfully sent 1 of 2 emails", "1 email addresses were invalid",
                               "1 emails failed (omero-mail failed list shows why)"]
    [failed] = [e for e in done["emails"] if e["outcome"] == "failed"]
    assert failed["recipient"] == "carol@example.org" and "550 5.1.1 No such user here" in failed["reply"]


def test_a_broadcast_not_yet_planned_says_so(client):
    event_id = compose(client, everyone="on")
    shown = progress(client, event_id)
    assert shown["state"] == "not planned" and shown["total"] is None and not shown["finished"]
    assert shown["summary"][0].startswith("Not planned yet")


def test_an_unknown_broadcast_has_no_page_and_no_progress(client):
    unknown = str(uuid.uuid4())
    status, _, page = client.get(f"broadcasts/{unknown}/")
    assert status == 404 and f"No broadcast {unknown} is known" in page
    assert client.get(f"broadcasts/{unknown}/progress")[0] == 404
    assert client.get(f"broadcasts/{unknown}/progress?follow=0")[0] == 404


def test_a_row_of_the_list_reads_the_outcomes_without_following_them(make_service, people, client):
    make_service(omero__mail__directory__file=str(people))
    event_id = compose(client, groups=["3"])
    done = finished(client, event_id, follow=False)
    assert done["summary"] == ["Successfully sent 2 of 2 emails"] and done["emails"] == []


def publish_queued(url: str, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    results.declare(url, topo.build(), ids[0], 60_000)
    with Publisher(url) as publisher:
        publisher.publish_many([results.queued(event_id, subject=f"Broadcast {n}", requested_by="root",
                                               recipients="everyone", cc=0, bcc=0)
                                for n, event_id in enumerate(ids)])
    return ids


def subjects(page: str) -> list[str]:
    return re.findall(r'<a href="/broadcasts/[0-9a-f-]+/">([^<]*)</a>', page)


def test_the_list_is_newest_first_a_page_at_a_time(props, client):
    publish_queued(props["omero.mail.broker.url"], 30)
    status, _, first = client.get("broadcasts/")
    assert status == 200
    assert subjects(first) == [f"Broadcast {n}" for n in range(29, 4, -1)]
    assert subjects(client.get("broadcasts/?page=2")[2]) == [f"Broadcast {n}" for n in range(4, -1, -1)]


def test_the_list_shows_a_broadcast_queued_after_it_was_first_read(props, client):
    client.get("broadcasts/")
    publish_queued(props["omero.mail.broker.url"], 1)
    wait_for(lambda: subjects(client.get("broadcasts/")[2]) == ["Broadcast 0"], what="the new broadcast listed")


def test_the_list_escapes_what_a_subject_says(client):
    compose(client, everyone="on", subject='<script>alert(1)</script>"><img src=x onerror=alert(2)>')
    page = wait_for(lambda: (p := client.get("broadcasts/")[2]) and "alert(1)" in p and p, what="the broadcast listed")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape('<script>alert(1)</script>"><img src=x onerror=alert(2)>') in page


def test_the_broadcasts_page_lists_a_broadcast_with_its_summary_in_the_browser(make_service, people, site, client,
                                                                              browser):
    from selenium.webdriver.common.by import By

    make_service(omero__mail__directory__file=str(people))
    event_id = compose(client, groups=["3"], cc="x@example.org")
    finished(client, event_id)
    log_in(browser, site)
    browser.get(site.page("broadcasts/"))
    status = wait_for(lambda: (cell := browser.find_element(By.CSS_SELECTOR, "#broadcasts tbody .status"))
                      and "Successfully" in cell.text and cell, what="the row's status")
    assert status.text.splitlines() == ["finished", "Successfully sent 3 of 3 emails"]
    row = browser.find_element(By.CSS_SELECTOR, "#broadcasts tbody tr").text
    assert "root" in row and "Maintenance" in row and "groups lab (#3) (Cc 1, Bcc 0)" in row
    screenshot(browser, "broadcasts")
    browser.find_element(By.LINK_TEXT, "Maintenance").click()
    wait_for(lambda: browser.current_url.endswith(f"/broadcasts/{event_id}/"), what="the broadcast's page")


def test_before_any_broadcast_the_list_is_empty_and_reading_it_creates_nothing(props, web_app, people):
    client = Client(web_app(omero__mail__directory__file=str(people)))
    client.login()
    status, _, page = client.get("broadcasts/")
    assert status == 200 and "No broadcast yet." in page
    assert client.get("email/")[0] == 200
    with pika.BlockingConnection(pika.URLParameters(props["omero.mail.broker.url"])) as connection:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            connection.channel().queue_declare(topo.BROADCASTS_QUEUE, passive=True)
