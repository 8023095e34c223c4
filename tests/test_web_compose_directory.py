"""The app and the directory it reads: OMERO's database down, and an admin removed from ``system``."""

from __future__ import annotations

import time


from events.config import Properties

from .conftest import write_directory
from .faults import Proxy
from .test_web_inside_omero_web import logged_in
from .webapp import Client


def test_the_email_page_says_in_one_line_that_the_directory_is_down_and_shows_no_password(omero_db, props,
                                                                                          omero_web_on):
    proxy = Proxy("127.0.0.1", 5432)
    try:
        dsn = " ".join([p for p in omero_db.dsn.split() if not p.startswith(("host=", "port="))]
                       + ["host=127.0.0.1", f"port={proxy.port}", "password=s3cret-db"])
        merged = Properties(dict((k, props._raw[k]) for k in props._raw))
        merged.update({"omero.mail.directory.backend": "postgres", "omero.mail.directory.dsn": dsn}, origin="test")
        app = omero_web_on(merged)
        proxy.cut()
        status, _, page = logged_in(app, "root", admin=True).get("omero_mail/email/")
        assert status == 503 and "Not available now:" in page and "s3cret-db" not in page
    finally:
        proxy.close()


def test_an_admin_removed_from_system_while_logged_in_is_logged_out_at_the_next_page(web_app, tmp_path):
    people = tmp_path / "people.json"
    admins = [{"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
              {"id": 2, "omeName": "alice", "email": "alice@example.org", "groups": ["system", "user"]}]
    write_directory(people, admins)
    client = Client(web_app(omero__mail__directory__file=str(people), omero__mail__directory__refresh="0.1"))
    assert client.login("alice")[0] == 302
    assert client.get("health/")[0] == 200
    write_directory(people, [admins[0], {**admins[1], "groups": ["user"]}])
    time.sleep(0.3)
    status, headers, _ = client.get("health/")
    assert status == 302 and headers["Location"] == "/login/"
    assert client.get("email/")[0] == 302
