"""``omero-mail declare``: create the exchanges, queues and bindings, then exit."""

from __future__ import annotations

from . import properties


def register(subparsers) -> None:
    parser = subparsers.add_parser("declare")
    parser.set_defaults(func=run)


def run(args) -> int:
    from events.broker import declare_topology, redacted

    from ...access.definitions import topology_for

    props = properties(args)
    topology = topology_for(props)
    declare_topology(props["omero.mail.broker.url"], topology)
    print(f"declared {len(topology.exchanges)} exchanges and {len(topology.queues)} queues "
          f"on {redacted(props['omero.mail.broker.url'])}")
    return 0
