"""The standalone app on waitress, a production WSGI server in pure Python (no Django runserver).

One process, a few threads: the pages are an admin's, and a broadcast's progress is followed by
one reader per broadcast shared by every page that polls it (``views/broadcasts.py``).
"""

from __future__ import annotations

from typing import Sequence

#: Threads serving requests: a handful of admins with a page or two polling each.
THREADS = 8


def make_server(host: str, port: int, config_files: Sequence[str], omero_config: str | None):
    """A waitress server bound to (host, port), not yet serving: ``.run()`` serves, ``.close()`` stops."""
    from waitress.server import create_server

    from .standalone import configure

    configure(config_files, omero_config, host)
    from django.core.wsgi import get_wsgi_application

    return create_server(get_wsgi_application(), host=host, port=port, threads=THREADS, ident="omero-mail",
                         clear_untrusted_proxy_headers=True)
