"""Review: the Email page's form sent twice (a double click, a replayed POST) queues one broadcast.

Found by review: each POST of the form queued a broadcast under a new ID, so a form sent twice
mailed every recipient twice. Now each form the page gives carries the ID its broadcast is
queued under: a second POST of that form goes to the same broadcast's page and queues nothing,
and two POSTs at once queue the same ID, whose second copy the rules stage folds.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

from .test_web_compose import events_queued, people, site  # noqa: F401  (fixtures)
from .webapp import Client


def a_filled_form(client: Client) -> dict:
    """The Email page's form as a browser would send it: its hidden fields, and a broadcast to the group lab."""
    _, _, page = client.get("email/")
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return {**hidden, "groups": ["3"], "subject": "Maintenance", "message": "Down at noon"}


def send(client: Client, form: dict) -> tuple[int, dict, str]:
    return client.post("email/", form, token_from=None)


def test_the_same_form_sent_twice_queues_one_broadcast_and_both_go_to_its_page(site, props):  # noqa: F811
    client = Client(site)
    client.login()
    form = a_filled_form(client)
    first, second = send(client, form), send(client, form)
    assert first[0] == second[0] == 302
    assert first[1]["Location"] == second[1]["Location"]
    assert len(events_queued(props)) == 1


def test_the_same_form_sent_twice_at_once_mails_each_recipient_once(site, props, make_service, people,  # noqa: F811
                                                                     smtp_server):
    client = Client(site)
    client.login()
    form = a_filled_form(client)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: send(client, form), range(2)))
    assert [status for status, _, _ in answers] == [302, 302]
    make_service(omero__mail__directory__file=str(people))
    smtp_server.wait_for_messages(1, timeout=30)
    time.sleep(2)  # what a second broadcast would have sent by now
    assert [r for received in smtp_server.received for r in received.rcpt_tos] == ["carol@example.org"]
