"""``omero-mail web``: the admin app standalone (broadcasts, parking lots, health), on waitress.

The same app runs inside OMERO.web (README, "The web app"); standalone it listens on
``omero.mail.web.host:omero.mail.web.port`` (127.0.0.1:4080) unless ``--host``/``--port`` say
otherwise, and an admin logs in with the identity ``omero-mail broadcast`` uses.
"""

from __future__ import annotations

import errno

from . import CommandError, properties


def register(subparsers) -> None:
    parser = subparsers.add_parser("web", description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="address to listen on (default omero.mail.web.host)")
    parser.add_argument("--port", type=int, help="port to listen on (default omero.mail.web.port)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from events.settings import web_settings

    from ..web.server import make_server

    settings = web_settings(properties(args))
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    try:
        server = make_server(host, port, args.config or [], args.omero_config)
    except OSError as exc:
        why = "is busy" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror or exc})"
        raise CommandError(f"{host}:{port} {why}: the web app is not started") from None
    print(f"omero-mail web on http://{host}:{server.effective_port}/ (Ctrl-C stops it)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        return 130
    finally:
        server.close()
    return 0
