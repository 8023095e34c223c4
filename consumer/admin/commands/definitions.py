"""``omero-mail definitions``: print the RabbitMQ definitions file of the topology.

``deploy/rabbitmq/definitions.json`` is this command's output with the default
properties; a site with other retry tiers, quorum queues, another vhost or RabbitMQ 4
(``--rabbitmq 4``) generates its own and loads it with ``rabbitmqctl import_definitions``
or at broker boot.

``--users`` adds each role's broker user's permissions and topic permissions (the users
named by ``omero.mail.broker.*-user``, and the admins' by ``--admin``); ``--rabbitmqctl``
prints instead the commands that create those users and set the same permissions.
``deploy/rabbitmq/users.sh`` is that script with the default names.
"""

from __future__ import annotations

from . import CommandError, properties


def register(subparsers) -> None:
    parser = subparsers.add_parser("definitions")
    parser.add_argument("--vhost", default="/", help="the virtual host the definitions are for (default /)")
    parser.add_argument("--queue-type", choices=["classic", "quorum"],
                        help="classic or quorum queues (default omero.mail.queue.type: auto is quorum "
                             "when omero.mail.broker.url names several nodes)")
    parser.add_argument("--rabbitmq", type=int, choices=[3, 4], default=3, metavar="MAJOR",
                        help="the RabbitMQ major version the definitions are for, 3 or 4 (default 3): with quorum "
                             "queues, RabbitMQ 4's parking lots need a policy that 3 refuses")
    parser.add_argument("--users", action="store_true",
                        help="add the permissions and topic permissions of each role's broker user (README, Security)")
    parser.add_argument("--rabbitmqctl", action="store_true",
                        help="print the rabbitmqctl commands that create the users and set their permissions")
    parser.add_argument("--admin", action="append", default=[], metavar="USER",
                        help="an admin's broker user, allowed to broadcast (repeatable; default "
                             "omero.mail.broadcast.user and the users of omero.mail.broadcast.users)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ...access import roles
    from ...access.definitions import definitions, render
    from ...access.trust import ACTS_FOR, acting_for
    from events import topology as topo

    props = properties(args)
    if args.queue_type:
        props.update({"omero.mail.queue.type": args.queue_type}, origin="--queue-type")
    topology = topo.from_properties(props)
    admins = args.admin or [props["omero.mail.broadcast.user"], *acting_for(props[ACTS_FOR])]
    grants = roles.from_properties(topology, props, list(dict.fromkeys(admins)))
    if args.rabbitmqctl:
        text = roles.rabbitmqctl(grants, args.vhost)
    else:
        text = render(definitions(topology, args.vhost, grants if args.users else (), args.rabbitmq))
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        print(text, end="")
    return 0
