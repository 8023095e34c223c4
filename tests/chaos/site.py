"""The chaos run's own site: a 3-node RabbitMQ cluster, an OMERO database, and the settings.

Nothing here touches the machine's shared broker. The cluster is started from the
installed ``rabbitmq-server`` (``tests/rabbitmq_nodes.py``), with a TCP proxy in front of
each node (``tests/faults.py``) so that a node's connections can be cut. The site is set up
as README's Deployment says for production: each role has a broker user of its own, whose
permissions are ``omero-mail definitions --users`` (quorum queues) imported with
``rabbitmqctl import_definitions``, and ``omero.mail.broker.check-publishers=true``. The
OMERO database is a fresh PostgreSQL database made with OMERO's DDL (``tests/omero_db.py``),
read by the bridge and the directory through a role holding README's grants only.

Every process gets one properties file: the common settings and its role's broker URL,
which names all three nodes (through their proxies), in an order of its own; both forms
README gives are used (one URL naming every host, and one URL per node).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.faults import Proxy
from tests.omero_db import SCHEMA, OmeroDatabase, grant_statements
from tests.rabbitmq_nodes import Cluster, NodeError, start_cluster
from tests.services import find_postgres_dsn

ROOT = Path(__file__).resolve().parents[2]
OMERO_MAIL = ROOT / ".venv" / "bin" / "omero-mail"
EXAMPLE_SENDERS = ROOT / "etc" / "mail-senders.example"
VHOST = "omero-mail-chaos"
DOMAIN = "chaos.example"
MAIL_FROM = f"omero@{DOMAIN}"
WEB_ADMINS = [("Web Admin", f"webadmin@{DOMAIN}"), ("Ops", f"ops@{DOMAIN}")]
#: The roles with a broker user named by ``omero.mail.broker.<role>-user`` (README, Security).
ROLES = ("rules", "delivery", "web", "bridge", "replay", "server", "webapp")
#: Each role's broker user; root and alice are OMERO admins who may broadcast as themselves.
USERS = {**{role: f"omero-mail-{role}" for role in ROLES}, "root": "root", "alice": "alice"}
#: Roles whose URL is one URL naming every host; the others get one URL per node (README, Scaling out).
ONE_URL_ROLES = ("rules", "delivery", "root")
#: How long a flood window lasts in the run: several windows open and close in a few minutes.
FLOOD_WINDOW = 30


class SiteError(RuntimeError):
    """The site could not be set up (a service missing, a command refused)."""


@dataclass
class Site:
    folder: Path
    cluster: Cluster
    proxies: list[Proxy]
    db: OmeroDatabase
    admin_dsn: str
    database: str
    smtp_port: int
    passwords: dict[str, str] = field(default_factory=dict)
    #: Indexes of the nodes a fault has stopped.
    down: set[int] = field(default_factory=set)

    @property
    def log_path(self) -> Path:
        return self.folder / "omero" / "var" / "log" / "Blitz-0.log"

    @property
    def state_path(self) -> Path:
        return self.folder / "omero" / "var" / "omero-mail" / "bridge-state.json"

    def url(self, role: str, offset: int = 0, direct: bool = False) -> str:
        """The role's broker URL naming every node (their proxies, unless ``direct``), from node ``offset`` on."""
        user, password = USERS.get(role, role), self.passwords[role]
        ports = [n.amqp_port for n in self.cluster.nodes] if direct else [p.port for p in self.proxies]
        ports = ports[offset % 3:] + ports[:offset % 3]
        if role in ONE_URL_ROLES:
            return f"amqp://{user}:{password}@" + ",".join(f"127.0.0.1:{port}" for port in ports) + f"/{VHOST}"
        return ",".join(f"amqp://{user}:{password}@127.0.0.1:{port}/{VHOST}" for port in ports)

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """``rabbitmqctl`` on a node that is up."""
        last: Exception | None = None
        for index, node in enumerate(self.cluster.nodes):
            if index in self.down:
                continue
            try:
                return node.ctl(*args, timeout=timeout)
            except (NodeError, subprocess.TimeoutExpired) as exc:
                last = exc
        raise SiteError(f"no node answered rabbitmqctl {' '.join(args)}: {last}")

    def properties(self) -> dict[str, str]:
        """What every process of the site reads (its broker URL is added per role)."""
        return {
            "omero.mail.config": "true",
            "omero.mail.host": "127.0.0.1",
            "omero.mail.port": str(self.smtp_port),
            "omero.mail.from": MAIL_FROM,
            "omero.mail.senders.dir": str(self.folder / "senders"),
            "omero.mail.directory.backend": "postgres",
            "omero.mail.directory.dsn": self.db.bridge_dsn,
            "omero.mail.directory.refresh": "5",
            "omero.mail.retry.delays": "1s,5s",
            "omero.mail.smtp.connectiontimeout": "3000",
            "omero.mail.smtp.timeout": "3000",
            "omero.mail.queue.type": "quorum",
            "omero.mail.queue.policies": "true",
            "omero.mail.broker.check-publishers": "true",
            **{f"omero.mail.broker.{role}-user": USERS[role] for role in ROLES},
            "omero.mail.broadcast.user": "root",
            "omero.mail.flood.window": f"{FLOOD_WINDOW}s",
            "omero.web.admins": json.dumps([list(pair) for pair in WEB_ADMINS]),
            "omero.mail.bridge.dsn": self.db.bridge_dsn,
            "omero.mail.bridge.state": str(self.state_path),
            "omero.mail.bridge.log": str(self.log_path),
            "omero.mail.bridge.poll": "250ms",
            "omero.mail.health.stuck-after": "10m",
        }

    def config(self, name: str, role: str, offset: int = 0) -> Path:
        """``<name>.properties``: the site's settings, logging in to RabbitMQ as ``role``."""
        path = self.folder / f"{name}.properties"
        values = {**self.properties(), "omero.mail.broker.url": self.url(role, offset)}
        path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
        path.chmod(0o600)
        return path


def _database(stack: contextlib.ExitStack) -> tuple[OmeroDatabase, str, str]:
    """A fresh OMERO database and the bridge's read-only role, both dropped at the end."""
    base = find_postgres_dsn()
    if base is None:
        raise SiteError("PostgreSQL is not available")
    run = uuid.uuid4().hex[:10]
    name, role = f"omero_mail_chaos_{run}", f"omero_mail_chaos_{run}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f"CREATE ROLE {role} LOGIN")

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f"DROP ROLE IF EXISTS {role}")

    stack.callback(drop)
    parts = [p for p in base.split() if not p.startswith(("dbname=", "user="))]
    user = next((p for p in base.split() if p.startswith("user=")), "user=postgres")
    dsn = " ".join(parts + [user, f"dbname={name}"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA.read_text())
        for statement in grant_statements(role):
            conn.execute(statement)
    return OmeroDatabase(dsn, " ".join(parts + [f"user={role}", f"dbname={name}"])), base, name


def _broker_users(site: Site) -> None:
    """The roles' users, then their permissions as ``omero-mail definitions --users`` writes them."""
    seed = site.cluster.seed
    for role, user in USERS.items():
        site.passwords[role] = secrets.token_hex(12)
        seed.ctl("add_user", user, site.passwords[role])
    site.passwords["guest"] = "guest"
    definitions = site.folder / "definitions.json"
    # The same properties as the consumers: the retry tiers name queues the permissions list.
    names = site.folder / "definitions.properties"
    names.write_text("".join(f"{key}={value}\n" for key, value in site.properties().items()))
    done = subprocess.run([str(OMERO_MAIL), "--config", str(names), "definitions", "--users", "--admin", "root",
                           "--admin", "alice", "--queue-type", "quorum", "--vhost", VHOST, "-o", str(definitions)],
                          capture_output=True, text=True, timeout=60)
    if done.returncode:
        raise SiteError(f"omero-mail definitions failed: {done.stderr.strip()}")
    definitions.chmod(0o644)
    seed.ctl("import_definitions", str(definitions))
    # An intruder's account: every permission on the vhost, but not the rules stage's user.
    seed.ctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")


@contextlib.contextmanager
def chaos_site(folder: Path, smtp_port: int):
    """The site, torn down on exit whatever happened: processes first (the caller's), then this."""
    if not OMERO_MAIL.exists():
        raise SiteError(f"{OMERO_MAIL} is missing: run `make venv` first")
    with contextlib.ExitStack() as stack:
        db, admin_dsn, database = _database(stack)
        cluster = stack.enter_context(start_cluster(folder / "rabbitmq", 3))
        proxies = [Proxy("127.0.0.1", node.amqp_port) for node in cluster.nodes]
        for proxy in proxies:
            stack.callback(proxy.close)
        site = Site(folder, cluster, proxies, db, admin_dsn, database, smtp_port)
        _broker_users(site)
        senders = folder / "senders"
        senders.mkdir(exist_ok=True)
        shutil.copy(EXAMPLE_SENDERS, senders / "mail-senders.xml")
        site.log_path.parent.mkdir(parents=True, exist_ok=True)
        site.state_path.parent.mkdir(parents=True, exist_ok=True)
        yield site
