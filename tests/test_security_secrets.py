"""The SMTP password, the broker password and the DSN password never appear in logs (the
SMTP debug trace included), error messages, ``config list``, metrics or the failed store.

Each test runs the real thing (consumer, broker, an aiosmtpd server with AUTH, PostgreSQL)
with distinctive passwords, captures every log record, and searches everything it can
read for the password and its base64 forms.
"""

from __future__ import annotations

import base64
import logging
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiosmtpd.smtp import AuthResult

from consumer.admin.cli import main as cli_main
from events.config import ConfigError, Properties, load, redact
from events import topology as topo
from events.broker import queue_depths

from .conftest import SMTPServer, take_all, wait_for
from .services import free_port

#: The AUTH server runs without TLS on purpose (to read the trace); aiosmtpd warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SMTP_PASSWORD = "Smtp-Pw-5f1c9e"
BROKER_PASSWORD = "Broker-Pw-7a2d41"
DSN_PASSWORD = "Dsn-Pw-93be07"
SMTP_USER = "omero-mailer"


def forms(password: str, user: str = SMTP_USER) -> list[str]:
    """The password as text and as AUTH PLAIN / AUTH LOGIN put it on the wire."""
    b64 = lambda raw: base64.b64encode(raw.encode()).decode()  # noqa: E731
    return [password, b64(password), b64(f"\0{user}\0{password}")]


def assert_nowhere(password: str, *texts: str) -> None:
    for form in forms(password):
        for text in texts:
            assert form not in text


def everything_logged(caplog) -> str:
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


class Authenticator:
    def __init__(self, password: str):
        self.password = password

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == SMTP_USER.encode() and auth_data.password == self.password.encode()
        return AuthResult(success=ok)


@pytest.fixture
def auth_smtp_server():
    server = SMTPServer(port=free_port(), authenticator=Authenticator(SMTP_PASSWORD),
                        auth_require_tls=False, auth_required=True).start()
    yield server
    server.stop()


def smtp_auth_overrides(server, **extra) -> dict:
    return {"omero__mail__port": str(server.port), "omero__mail__smtp__auth": "true",
            "omero__mail__username": SMTP_USER, "omero__mail__smtp__debug": "true", **extra}


def test_the_smtp_password_is_not_in_the_debug_trace_of_a_successful_login(make_service, publish, auth_smtp_server,
                                                                          caplog):
    caplog.set_level(logging.DEBUG)
    make_service(**smtp_auth_overrides(auth_smtp_server, omero__mail__password=SMTP_PASSWORD))
    publish("server.startup")
    auth_smtp_server.wait_for_messages(2)
    logged = everything_logged(caplog)
    assert "AUTH" in logged  # the trace was on
    assert_nowhere(SMTP_PASSWORD, logged)


def test_the_smtp_password_read_from_a_file_logs_in_and_is_shown_nowhere(make_service, publish, auth_smtp_server,
                                                                        caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    secret = tmp_path / "smtp-password"
    secret.write_text(SMTP_PASSWORD + "\n")
    make_service(**smtp_auth_overrides(auth_smtp_server, omero__mail__password__file=str(secret)))
    publish("server.startup")
    auth_smtp_server.wait_for_messages(2)
    assert_nowhere(SMTP_PASSWORD, everything_logged(caplog))


def test_a_refused_smtp_login_parks_mail_without_the_password_in_logs_or_the_failed_store(
        make_service, publish, auth_smtp_server, props, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Wrong-" + SMTP_PASSWORD
    make_service(**smtp_auth_overrides(auth_smtp_server, omero__mail__password=wrong,
                                       omero__mail__retry__delays="1s"))
    publish("server.startup")
    url = props["omero.mail.broker.url"]
    wait_for(lambda: queue_depths(url, [topo.FAILED_QUEUE])[topo.FAILED_QUEUE] == 2, timeout=60,
             what="both mails parked")
    parked = take_all(url, topo.FAILED_QUEUE)
    assert all(headers["x-omero-mail-reason"] for headers, _ in parked)
    stored = "\n".join(f"{headers} {body!r}" for headers, body in parked)
    assert_nowhere(wrong, stored, everything_logged(caplog))
    assert auth_smtp_server.received == []


@pytest.fixture
def broker_user(rabbitmq, amqp_url):
    """A broker user with a distinctive password on the test's vhost; the URL with it."""
    name = "omero-mail-secret-" + urlsplit(amqp_url).path.rsplit("-", 1)[-1]
    vhost = urlsplit(amqp_url).path.lstrip("/")
    rabbitmq.ctl("add_user", name, BROKER_PASSWORD)
    rabbitmq.ctl("set_permissions", "-p", vhost.replace("%2F", "/"), name, ".*", ".*", ".*")
    parts = urlsplit(amqp_url)
    yield urlunsplit((parts.scheme, f"{name}:{BROKER_PASSWORD}@{parts.hostname}:{parts.port}", parts.path, "", ""))
    rabbitmq.ctl("delete_user", name, check=False)


def test_the_broker_password_is_not_in_the_logs_or_metrics_of_a_running_consumer(make_service, publish, smtp_server,
                                                                               broker_user, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()
    make_service(omero__mail__broker__url=broker_user, omero__mail__metrics__port=str(port),
                 omero__mail__password=SMTP_PASSWORD)
    publish("server.startup")
    smtp_server.wait_for_messages(2)
    pages = [urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).read().decode()
             for path in ("/metrics", "/healthz")]
    logged = everything_logged(caplog)
    for password in (BROKER_PASSWORD, SMTP_PASSWORD):
        assert_nowhere(password, logged, *pages)


def test_a_wrong_broker_password_is_not_in_the_error_or_the_logs(broker_user, capsys, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    wrong = broker_user.replace(BROKER_PASSWORD, "Wrong-" + BROKER_PASSWORD)
    config = tmp_path / "omero-mail.properties"
    config.write_text(f"omero.mail.broker.url={wrong}\n")
    code = cli_main(["--config", str(config), "publish", "server.startup"])
    captured = capsys.readouterr()
    assert code != 0 and captured.err.strip()
    assert_nowhere("Wrong-" + BROKER_PASSWORD, captured.out, captured.err, everything_logged(caplog))


def test_config_list_hides_every_password(tmp_path, capsys):
    secret_file = tmp_path / "pw"
    secret_file.write_text(SMTP_PASSWORD)
    config = tmp_path / "omero-mail.properties"
    config.write_text("\n".join([
        f"omero.mail.password={SMTP_PASSWORD}",
        f"omero.mail.password.file={secret_file}",
        f"omero.mail.broker.url=amqp://omero:{BROKER_PASSWORD}@rabbit.example.org:5672/%2F",
        f"omero.mail.directory.dsn=host=db.example.org user=omero password={DSN_PASSWORD} dbname=omero",
        f"omero.db.pass={DSN_PASSWORD}",
    ]) + "\n")
    assert cli_main(["--config", str(config), "config", "list", "--origin"]) == 0
    for key in ("omero.mail.password", "omero.mail.broker.url", "omero.mail.directory.dsn", "omero.db.pass"):
        assert cli_main(["--config", str(config), "config", "get", key]) == 0
    out = capsys.readouterr().out
    assert "omero.mail.broker.url=amqp://omero:********@rabbit.example.org" in out
    for password in (SMTP_PASSWORD, BROKER_PASSWORD, DSN_PASSWORD):
        assert password not in out


def test_an_unreadable_password_file_is_a_one_line_error_naming_the_file(tmp_path):
    props = Properties({"omero.mail.password.file": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="omero.mail.password.file .*missing"):
        props.secret("omero.mail.password")


def test_the_password_file_wins_over_an_inline_password(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text(SMTP_PASSWORD + "\r\n")
    props = load(environ={"OMERO_MAIL_PASSWORD": "inline", "OMERO_MAIL_PASSWORD_FILE": str(secret)})
    assert props.secret("omero.mail.password") == SMTP_PASSWORD


def test_a_dsn_password_is_not_in_the_directory_error_or_the_logs(make_service, postgres_dsn, caplog):
    caplog.set_level(logging.DEBUG)
    parts = dict(p.split("=", 1) for p in postgres_dsn.split())
    dsn = (f"host={parts['host']} port={parts.get('port', '5432')} dbname=no_such_db_{free_port()} "
           f"user=no_such_user password={DSN_PASSWORD} connect_timeout=5")
    with pytest.raises(Exception) as error:
        make_service(omero__mail__directory__backend="postgres", omero__mail__directory__dsn=dsn)
    assert DSN_PASSWORD not in str(error.value)
    assert DSN_PASSWORD not in everything_logged(caplog)


@pytest.mark.parametrize("key, value", [
    ("omero.mail.bridge.dsn", f"host=db.example.org user=omero password={DSN_PASSWORD} dbname=omero"),
    ("omero.mail.bridge.dsn", f"host=db.example.org password='{DSN_PASSWORD} with a space' dbname=omero"),
    ("omero.mail.directory.dsn", f"postgresql://omero:{DSN_PASSWORD}@db.example.org:5432/omero"),
    ("omero.mail.directory.dsn", f"postgresql://db.example.org/omero?user=omero&password={DSN_PASSWORD}&sslmode=verify-full"),
    ("omero.mail.bridge.dsn", f"host=db.example.org sslpassword={DSN_PASSWORD} sslkey=/etc/omero/key.pem"),
    ("omero.mail.broker.url", f"amqp://omero:{BROKER_PASSWORD}@rabbit1,rabbit2:5673/omero"),
    ("omero.mail.broker.url", f"amqp://omero:{BROKER_PASSWORD}@rabbit1/omero amqp://omero:{BROKER_PASSWORD}@rabbit2/o"),
])
def test_config_list_and_get_hide_the_password_of_every_dsn_and_url(tmp_path, capsys, key, value):
    config = tmp_path / "omero-mail.properties"
    config.write_text(f"{key}={value}\n")
    assert cli_main(["--config", str(config), "config", "list"]) == 0
    assert cli_main(["--config", str(config), "config", "get", key]) == 0
    out = capsys.readouterr().out
    assert DSN_PASSWORD not in out and BROKER_PASSWORD not in out
    assert "db.example.org" in out or "rabbit2" in out


def test_the_rest_of_a_dsn_is_shown_beside_its_hidden_password():
    props = Properties({"omero.mail.directory.dsn": f"postgresql://db/omero?password={DSN_PASSWORD}&sslmode=require"})
    assert props.shown("omero.mail.directory.dsn") == "postgresql://db/omero?password=********&sslmode=require"


def test_a_database_error_names_the_role_when_its_password_is_its_name(postgres_dsn):
    """OMERO's defaults are omero/omero: hiding every copy of the password would hide the role."""
    from senders.directory import DirectoryError
    from senders.pgdirectory import load_postgres_directory

    parts = dict(p.split("=", 1) for p in postgres_dsn.split())
    role = f"omero_no_such_role_{free_port()}"
    dsn = f"host={parts['host']} port={parts.get('port', '5432')} dbname=omero user={role} password={role}"
    with pytest.raises(DirectoryError) as error:
        load_postgres_directory(dsn)
    assert f'role "{role}" does not exist' in str(error.value)


def test_an_error_hides_each_password_field_and_keeps_the_user_name_that_equals_it():
    """Broker URLs as DSNs: a refused user ``omero`` with password ``omero`` is still named."""
    text = ("amqp://omero:omero@rabbit1,//omero:omero@/rabbit2/omero: NOT_ALLOWED - access to vhost 'omero' "
            "refused for user 'omero'")
    assert redact(text) == ("amqp://omero:********@rabbit1,//omero:********@/rabbit2/omero: NOT_ALLOWED - access "
                            "to vhost 'omero' refused for user 'omero'")


def test_the_bridges_settings_print_neither_its_database_password_nor_its_broker_password(tmp_path):
    from events.bridge.settings import bridge_settings

    props = Properties({"omero.mail.bridge.dsn": "host=db user=omero password=Db-S3cret",
                        "omero.mail.broker.url": "amqp://bridge:Mq-S3cret@rabbit/omero",
                        "omero.mail.bridge.state": str(tmp_path / "state.json")})
    shown = repr(bridge_settings(props))
    assert "Db-S3cret" not in shown and "Mq-S3cret" not in shown
