"""The Email page when OMERO's database, where the directory is read, stops answering."""

from __future__ import annotations

from .faults import Proxy
from .webapp import Client


def test_the_email_page_says_in_one_line_that_the_directory_is_down_and_shows_no_password(omero_db, web_app):
    host, port = "127.0.0.1", 5432
    proxy = Proxy(host, port)
    try:
        dsn = " ".join([p for p in omero_db.dsn.split() if not p.startswith(("host=", "port="))]
                       + [f"host={host}", f"port={proxy.port}", "password=s3cret-db"])
        app = web_app(omero__mail__directory__backend="postgres", omero__mail__directory__dsn=dsn)
        client = Client(app)
        assert client.login()[0] == 302
        proxy.cut()
        status, _, page = client.get("email/")
        assert status == 503 and "Not available now:" in page and "s3cret-db" not in page
    finally:
        proxy.close()
