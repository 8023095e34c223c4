"""RabbitMQ nodes of the test session's own, for the tests that stop, block or cluster a broker.

The machine's broker is shared with other test runs and people, so a test that restarts
RabbitMQ or raises a memory alarm does it to a node started here from the installed
``rabbitmq-server``: on free ports (AMQP, Erlang distribution), without plugins, with its
node name, data, logs and Erlang cookie in a temporary directory, so it shares nothing
with the machine's broker. :func:`start_cluster` joins several such nodes into one cluster.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from .services import RabbitMQError, free_port

#: Debian's and Ubuntu's /usr/sbin scripts switch to the rabbitmq user (and refuse anyone
#: but root); the scripts they wrap run a node as whoever starts them.
PACKAGED_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT = 60.0


class NodeError(RabbitMQError):
    """A private node would not start, answer or join its cluster."""


def scripts_dir() -> Path | None:
    """Where ``rabbitmq-server`` and ``rabbitmqctl`` are, or None when RabbitMQ is not installed."""
    if (PACKAGED_SCRIPTS / "rabbitmq-server").exists():
        return PACKAGED_SCRIPTS
    found = shutil.which("rabbitmq-server")
    return Path(found).resolve().parent if found else None


class Node:
    """One private RabbitMQ node; ``home`` holds the Erlang cookie its cluster and CLI share."""

    def __init__(self, scripts: Path, home: Path, name: str, config: str = "", advanced: str = ""):
        self.scripts = scripts
        self.home = home
        #: More ``rabbitmq.conf`` lines, and an ``advanced.config`` (Erlang terms), for a test that needs them.
        self.config = config
        self.advanced = advanced
        self.name = f"{name}@localhost"
        self.dir = home / name
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, vhost: str = "%2F") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/{vhost}"

    def env(self) -> dict[str, str]:
        """The node's whole environment: nothing of the machine's broker configuration applies."""
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            # Whoever reached the distribution port with the cookie would control the node.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.dir / "plugins-expand"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "rabbitmq.pid"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(self.dir / "feature_flags"),
            # A VM that fails to boot writes its crash dump here, not into the tests' directory.
            "ERL_CRASH_DUMP": str(self.dir / "erl_crash.dump"),
        }

    def ctl(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """``rabbitmqctl`` aimed at this node."""
        result = subprocess.run([str(self.scripts / "rabbitmqctl"), "-n", self.name, *args], env=self.env(),
                                capture_output=True, timeout=timeout)
        if check and result.returncode:
            raise NodeError(f"rabbitmqctl {' '.join(args)} on {self.name} failed: "
                            f"{(result.stderr or result.stdout).decode(errors='replace').strip()}")
        return result

    def start(self) -> "Node":
        """Launch the node (again, after :meth:`kill`, with its data).

        :meth:`wait_until_running` says when it answers.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "rabbitmq-env.conf").write_text("")
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}\n{self.config}")
        if self.advanced:
            (self.dir / "advanced.config").write_text(self.advanced)
        command = [str(self.scripts / "rabbitmq-server")]
        if shutil.which("setpriv"):
            # A test run that is killed takes its nodes with it.
            command = ["setpriv", "--pdeathsig", "TERM", *command]
        with open(self.dir / "server.out", "wb") as out:
            self.process = subprocess.Popen(command, env=self.env(), stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT)
        return self

    def wait_until_running(self, timeout: float = START_TIMEOUT) -> "Node":
        deadline = time.monotonic() + timeout
        while True:
            if (code := self._started().poll()) is not None:
                raise NodeError(f"{self.name} exited ({code}) while starting: {self.output()}")
            if self.ctl("await_startup", "--timeout", "10", check=False).returncode == 0:
                return self
            if time.monotonic() > deadline:
                raise NodeError(f"{self.name} did not start within {timeout:.0f}s: {self.output()}")
            time.sleep(0.5)

    def _started(self) -> subprocess.Popen:
        if self.process is None:
            raise NodeError(f"{self.name} was never started")
        return self.process

    def output(self, lines: int = 20) -> str:
        """The last lines the server printed, for an error message."""
        path = self.dir / "server.out"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def join(self, seed: "Node") -> None:
        self.ctl("stop_app")
        self.ctl("join_cluster", seed.name)
        self.ctl("start_app")

    def kill(self) -> None:
        """``kill -9`` of the node's Erlang VM, as a crash would end it."""
        pid = int(self.ctl("eval", "list_to_integer(os:getpid()).").stdout.decode().strip())
        os.kill(pid, signal.SIGKILL)
        self._started().wait(30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.ctl("stop", check=False)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            # The script stops the Erlang VM on TERM; a KILL would leave the VM running.
            self.process.terminate()
            self.process.wait(30)


class Cluster:
    """Nodes joined to the first one; every node serves every queue of the cluster."""

    def __init__(self, nodes: list[Node]):
        self.nodes = nodes

    @property
    def seed(self) -> Node:
        return self.nodes[0]

    def running_nodes(self) -> set[str]:
        """The node names the cluster reports running, as the seed sees them."""
        status = json.loads(self.seed.ctl("cluster_status", "--formatter", "json").stdout)
        return set(status["running_nodes"])


def _new_cookie(home: Path) -> None:
    """The cookie the nodes of ``home`` and their CLI share, and nothing else knows."""
    home.mkdir(parents=True, exist_ok=True)
    cookie = home / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)


@contextmanager
def start_cluster(home: Path, count: int, config: str = "", advanced: str = ""):
    """``count`` nodes joined into one cluster, stopped and removed on exit."""
    scripts = scripts_dir()
    if scripts is None:
        raise NodeError("rabbitmq-server is not installed")
    _new_cookie(home)
    run = uuid.uuid4().hex[:8]
    nodes = [Node(scripts, home, f"omero-mail-test-{run}-{i}", config, advanced) for i in range(1, count + 1)]
    try:
        # Started together: each takes seconds, mostly waiting.
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_until_running()
        for node in nodes[1:]:
            node.join(nodes[0])
        nodes[0].ctl("await_online_nodes", str(count), "--timeout", str(int(START_TIMEOUT)))
        yield Cluster(nodes)
    finally:
        for node in nodes:
            node.stop()
        for node in nodes:
            shutil.rmtree(node.dir, ignore_errors=True)


@contextmanager
def private_node(home: Path, config: str = "", advanced: str = ""):
    """One node, stopped and removed on exit; ``config`` and ``advanced`` as :class:`Node` takes them."""
    with start_cluster(home, 1, config, advanced) as cluster:
        yield cluster.seed
