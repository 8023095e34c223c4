"""The standalone app on waitress, a production WSGI server in pure Python (no Django runserver).

One process, a few threads: the pages are an admin's, and a broadcast's progress is followed by
one reader per broadcast shared by every page that polls it (``views/broadcasts.py``).

Behind a reverse proxy, waitress takes the client's address and the scheme from the proxy's
``X-Forwarded-For`` and ``X-Forwarded-Proto``, but only from ``omero.mail.web.trusted-proxy``;
from anyone else those headers are removed before Django sees them. The login's guess bound then
counts each client apart, and Django's CSRF check sees the HTTPS origin the browser sent. The
host and port are the ``Host`` header's, which the proxy passes on (README's ``$http_host``), so
the host check is the browser's: ``X-Forwarded-Host``, ``-Port``, ``-By`` and ``Forwarded`` are
removed even from the proxy, which (README's nginx) passes on whatever the client sent in them.
"""

from __future__ import annotations

import ipaddress
from typing import Sequence

#: Threads serving requests: a handful of admins with a page or two polling each.
THREADS = 8
#: What a trusted proxy may tell: the headers README's nginx sets, replacing the client's
#: (``$proxy_add_x_forwarded_for`` appends nginx's view of the client; the app takes that last entry).
PROXY_HEADERS = ("x-forwarded-for", "x-forwarded-proto")


def client_address(app):
    """``app`` with REMOTE_ADDR read again from the X-Forwarded-For entry waitress believed.

    nginx on a dual-stack socket (``listen [::]:443 ipv6only=off``) names an IPv4 client
    ``::ffff:192.0.2.1``, which waitress splits as address ``::ffff`` and port ``192.0.2.1``: every
    IPv4 client would share one guess bound. waitress keeps the entry it believed as
    ``HTTP_X_FORWARDED_FOR`` (from the trusted proxy only; anyone else's is removed), so the
    address is taken from it, an IPv4-mapped one as its IPv4 address; any other spelling is
    left as waitress read it.
    """

    def wsgi(environ, start_response):
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "").strip().strip('"').strip("[]")
        try:
            address = ipaddress.ip_address(forwarded)
        except ValueError:
            return app(environ, start_response)
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        environ["REMOTE_ADDR"] = environ["REMOTE_HOST"] = str(mapped or address)
        return app(environ, start_response)

    return wsgi


def make_server(host: str, port: int, config_files: Sequence[str], omero_config: str | None):
    """A waitress server bound to (host, port), not yet serving: ``.run()`` serves, ``.close()`` stops."""
    from waitress.server import create_server

    from .standalone import configure

    web = configure(config_files, omero_config, host)
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    proxy = {}
    if web.trusted_proxy:
        app = client_address(app)
        proxy = {"trusted_proxy": web.trusted_proxy, "trusted_proxy_count": 1,
                 "trusted_proxy_headers": " ".join(PROXY_HEADERS)}
    return create_server(app, host=host, port=port, threads=THREADS, ident="omero-mail",
                         clear_untrusted_proxy_headers=True, **proxy)
