"""The omero-mail properties the app reads, once per process, as every command reads them.

Standalone, ``omero-mail web`` passes its ``--config`` and ``--omero-config`` in Django's settings
(``OMERO_MAIL_CONFIG``, ``OMERO_MAIL_OMERO_CONFIG``); inside OMERO.web they are OMERO's
config.xml under OMERODIR and the environment, as for the consumer. The properties are checked
as a command checks them: a bad value stops the app at its first page with one line in the log.
"""

from __future__ import annotations

import functools
import os

from django.conf import settings

from events.config import Properties, load
from events.settings import Settings, checked_at_start


@functools.lru_cache(maxsize=1)
def properties() -> Properties:
    props = load(config_files=getattr(settings, "OMERO_MAIL_CONFIG", ()),
                 omero_config=getattr(settings, "OMERO_MAIL_OMERO_CONFIG", None))
    checked_at_start(props, os.environ)
    return props


@functools.lru_cache(maxsize=1)
def read() -> Settings:
    from events.settings import read_settings

    return read_settings(properties())


def standalone() -> bool:
    """Whether this is ``omero-mail web`` (its own login) rather than an app inside OMERO.web."""
    return bool(getattr(settings, "OMERO_MAIL_STANDALONE", False))


@functools.lru_cache(maxsize=1)
def _refreshing():
    from ...stages.service import make_directory

    return make_directory(properties())


def directory():
    """The directory the consumer reads, one per process, read again as the consumer reads it
    (``omero.mail.directory.refresh``), its last snapshot kept while a reload fails. The first
    read raises DirectoryError when it fails, and is tried again at the next call."""
    return _refreshing()()


def is_admin(name: str) -> bool:
    """Whether ``name`` is an OMERO admin (group ``system``) in the directory; DirectoryError when
    the directory cannot be read."""
    from senders import broadcast

    try:
        broadcast.check_admin(name, directory())
    except broadcast.BroadcastRefused:
        return False
    return True
