"""nginx in front of ``omero-mail web``, configured with README's own lines ("Behind a reverse proxy").

``reverse_proxy(app, name)`` starts Debian's nginx (``make test`` installs ``nginx-light``) as a
process of the test's, with a self-signed certificate for ``name``, listening with TLS on
127.0.0.1 and a free port; the proxy's ``location`` lines are read from README.rst, so the
configuration the README gives is the one tested. The proxy is stopped at teardown.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import wait_for
from .services import free_port, listening, unavailable
from .webapp import ROOT, WebApp

NGINX = "/usr/sbin/nginx"

CONF = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen {listen}:{port} ssl{listen_options};
        server_name {name};
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
{location}
    }}
}}
"""


@dataclass
class Proxy:
    name: str
    port: int
    app: WebApp

    @property
    def url(self) -> str:
        return f"https://{self.name}:{self.port}/"

    def as_app(self) -> WebApp:
        """The app as a browser behind this proxy reaches it (its pages, its log)."""
        return WebApp(self.url, self.app.process, self.app.log)


def readme_location(app_port: int) -> str:
    """README's nginx ``location / { ... }`` block, pointed at the app under test."""
    readme = (ROOT / "README.rst").read_text()
    section = readme[readme.index("Behind a reverse proxy"):]
    match = re.search(r"^( +location / \{\n.*?^ +\})$", section, re.MULTILINE | re.DOTALL)
    assert match, "README's nginx site has no location block"
    assert "proxy_pass http://127.0.0.1:4080;" in match.group(1)
    return match.group(1).replace("127.0.0.1:4080", f"127.0.0.1:{app_port}")


def self_signed(folder: Path, name: str) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
                    "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
                   check=True, capture_output=True)


@pytest.fixture
def reverse_proxy(tmp_path):
    if not (shutil.which(NGINX) and shutil.which("openssl")):
        unavailable("nginx and openssl (Debian's nginx-light, openssl)")
    started: list[subprocess.Popen] = []

    def start(app: WebApp, name: str, listen: str = "127.0.0.1") -> Proxy:
        """``listen``: nginx's address; an IPv4-mapped one (``[::ffff:127.0.0.1]``) is a dual-stack
        socket (``ipv6only=off``), where nginx sees an IPv4 client as ``::ffff:a.b.c.d``."""
        folder = tmp_path / f"nginx-{len(started)}"
        folder.mkdir()
        self_signed(folder, name)
        port = free_port()
        app_port = int(app.url.rstrip("/").rsplit(":", 1)[1])
        options = " ipv6only=off" if listen.startswith("[::ffff:") else ""
        (folder / "nginx.conf").write_text(CONF.format(dir=folder, port=port, name=name, listen=listen,
                                                       listen_options=options,
                                                       location=readme_location(app_port)))
        process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
                                   stdout=subprocess.DEVNULL, stderr=open(folder / "stderr.log", "wb"))
        started.append(process)
        address = "127.0.0.1" if listen.startswith("[::ffff:") else listen.strip("[]")
        wait_for(lambda: listening(address, port) or process.poll() is not None, 30, interval=0.1,
                 what="nginx to listen")
        if process.poll() is not None:
            errors = folder / "error.log"
            pytest.fail(f"nginx did not start: {(folder / 'stderr.log').read_text()}"
                        f"{errors.read_text() if errors.exists() else ''}")
        return Proxy(name, port, app)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
