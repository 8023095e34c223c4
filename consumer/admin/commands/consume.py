"""``omero-mail consume [--stage rules|delivery]``: run the consumer."""

from __future__ import annotations

from . import properties


def register(subparsers) -> None:
    parser = subparsers.add_parser("consume")
    parser.add_argument("--stage", choices=["rules", "delivery", "all"], default="all",
                        help="run one stage only, to scale them apart (default: both)")
    parser.add_argument("--prefetch", type=int, metavar="N", help="messages in flight per stage "
                        "(omero.mail.consumer.prefetch)")
    parser.add_argument("--metrics-port", type=int, metavar="PORT", help="serve /metrics and /healthz on PORT, "
                        "0 = off (omero.mail.metrics.port)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ...stages.service import STAGES, run as run_service

    props = properties(args)
    if args.prefetch is not None:
        props.update({"omero.mail.consumer.prefetch": str(args.prefetch)}, origin="--prefetch")
    if args.metrics_port is not None:
        props.update({"omero.mail.metrics.port": str(args.metrics_port)}, origin="--metrics-port")
    stages = STAGES if args.stage == "all" else (args.stage,)
    return run_service(props, stages)
