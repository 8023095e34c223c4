"""The admin's own broker login, for ``omero-mail broadcast`` when publishers are checked.

An admin broadcasts as the broker user of their own name (``omero.mail.broadcast.user``):
RabbitMQ checks the password at connect and stamps every message with that user, which
is what the rules stage trusts (``consumer/access/trust.py``). The password comes from
``OMERO_MAIL_BROADCAST_PASSWORD``, from the file ``omero.mail.broadcast.password.file``,
or from a prompt on the terminal; never from the command line, where other users of the
machine would read it in the process list.

Checking the OMERO password against OMERO's database instead was considered and left out
(README, Security): OMERO's ``ome.security.auth`` password providers are a chain (LDAP
users have no usable hash in the database, a blank stored password accepts anything,
a legacy hash is upgraded by writing it back), so a second implementation would accept
what OMERO refuses or the reverse; it would need read access to the ``password`` table;
and the broker would then have to let one omero-mail user publish as every admin, which
moves the lock out of RabbitMQ and into this process.
"""

from __future__ import annotations

import getpass
import sys
from urllib.parse import quote, urlsplit, urlunsplit

from events.broker.connection import addresses
from events.config import ConfigError, Properties

PASSWORD = "omero.mail.broadcast.password"


def with_login(url: str, user: str, password: str) -> str:
    """``url`` logging in as ``user``: one URL per node, as the connections read the list."""
    login = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    nodes = []
    for node in addresses(url):
        parts = urlsplit(node)
        nodes.append(urlunsplit(parts._replace(netloc=login + parts.netloc.rpartition("@")[2])))
    return ",".join(nodes)


def password(props: Properties, user: str) -> str:
    """The admin's broker password: configured, or asked for on the terminal."""
    given = props.secret(PASSWORD)
    if given:
        return given
    if not sys.stdin.isatty():
        raise ConfigError(f"no broker password for {user!r}: set OMERO_MAIL_BROADCAST_PASSWORD or "
                          f"{PASSWORD}.file, or run on a terminal to be asked")
    return getpass.getpass(f"RabbitMQ password for {user}: ")


def admin_url(props: Properties, user: str) -> str:
    """The broker URL as the admin's own broker user."""
    return with_login(props["omero.mail.broker.url"], user, password(props, user))
