"""``omero-mail definitions``: print the RabbitMQ definitions file of the topology.

``deploy/rabbitmq/definitions.json`` is this command's output with the default
properties; a site with other retry tiers, quorum queues or another vhost generates its
own and loads it with ``rabbitmqctl import_definitions`` or at broker boot.
"""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("definitions", help="print the RabbitMQ definitions (JSON) of the topology")
    parser.add_argument("--vhost", default="/", help="the virtual host the definitions are for (default /)")
    parser.add_argument("--queue-type", choices=["classic", "quorum"],
                        help="classic or quorum queues (default omero.mail.queue.type: auto is quorum "
                             "when omero.mail.broker.url names several nodes)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..cli import properties
    from ..definitions import definitions, render
    from events import topology as topo

    props = properties(args)
    if args.queue_type:
        props.update({"omero.mail.queue.type": args.queue_type}, origin="--queue-type")
    text = render(definitions(topo.from_properties(props), args.vhost))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        print(text, end="")
    return 0
