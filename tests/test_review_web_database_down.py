"""Review: the standalone login while OMERO's database (the directory) cannot be read.

The login asks the directory whether the name is an OMERO admin's. With PostgreSQL down (or
the role refused), that question has no answer: the login must say so in one line, without
the database's password, and not answer with a server error.
"""

from __future__ import annotations

from .services import free_port
from .webapp import Client

DOWN = f"host=127.0.0.1 port={free_port()} dbname=omero user=omero password=db-secret-pw connect_timeout=2"


def test_a_login_while_omeros_database_is_down_is_refused_in_one_line_without_the_password(web_app):
    app = web_app(omero__mail__directory__backend="postgres", omero__mail__directory__dsn=DOWN)
    status, _, page = Client(app).login()
    assert status == 503 and "Not logged in: cannot read OMERO&#x27;s directory" in page
    assert "db-secret-pw" not in page and "db-secret-pw" not in app.log.read_text()
