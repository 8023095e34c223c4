"""``omero-mail broadcast`` against the real broker and SMTP server, case by case."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys

import pika
import pytest

from consumer.admin import cli
from consumer.admin.sink import MaildirHandler
from events import topology as topo
from events.broker import declare_topology, queue_depths

from .conftest import ROOT, SMTPServer, take_all, wait_for, write_directory
from .services import free_port


@pytest.fixture
def people(tmp_path):
    return write_directory(tmp_path / "people.json", [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
        {"id": 1, "omeName": "guest", "email": None, "groups": ["guest"]},
        {"id": 2, "omeName": "alice", "email": "alice@example.org", "groups": ["system", "user"]},
        {"id": 3, "omeName": "bob", "email": None, "groups": ["user"]},
        {"id": 4, "omeName": "carol", "email": "carol@example.org", "groups": ["user", "lab"]},
        {"id": 5, "omeName": "dave", "email": "dave@example.org", "groups": ["lab"]},
        {"id": 6, "omeName": "erin", "email": "erin@", "groups": ["user", "lab"]},
    ], [{"id": 0, "name": "system"}, {"id": 1, "name": "user"}, {"id": 2, "name": "guest"}, {"id": 3, "name": "lab"}])


@pytest.fixture
def config(tmp_path, props, people):
    """The test's properties as a file for the command line, with the people above."""
    path = tmp_path / "omero-mail.properties"
    values = {**{k: props._raw[k] for k in props._raw}, "omero.mail.directory.file": str(people)}
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


@pytest.fixture
def service(make_service, people):
    return make_service(omero__mail__directory__file=str(people))


def broadcast(config, capsys, *args, stdin=None, monkeypatch=None):
    """Run the command in this process; (exit code, stdout, stderr)."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", stdin)
    try:
        code = cli.main(["broadcast", *args, "--config", str(config), "--log-level", "ERROR"])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def recipients(smtp_server):
    return sorted(r for received in smtp_server.received for r in received.rcpt_tos)


def settled(props):
    url = props["omero.mail.broker.url"]
    return lambda: sum(queue_depths(url, [topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE]).values()) == 0


def test_everyone_reaches_each_active_user_with_a_valid_address(service, config, capsys, smtp_server):
    code, out, _ = broadcast(config, capsys, "Maintenance", "Down", "at", "noon", "--everyone", "--wait", "20")
    assert code == 0
    assert recipients(smtp_server) == ["alice@example.org", "carol@example.org", "root@example.org"]
    # SendEmailRequestI.parseRecipients: bob (no email) and erin (erin@, invalid) are both invalidusers.
    assert out.splitlines()[1:] == ["Successfully sent 3 of 3 emails", "2 users had no email address"]
    message = smtp_server.messages[0]
    assert message["Subject"] == "Maintenance" and message.get_content() == "Down at noon\n"


def test_inactive_adds_users_outside_group_user(service, config, capsys, smtp_server):
    broadcast(config, capsys, "S", "B", "--everyone", "--inactive", "--wait", "20")
    assert "dave@example.org" in recipients(smtp_server)


def test_everyone_with_users_warns_that_they_are_ignored(service, config, capsys, smtp_server):
    code, _, err = broadcast(config, capsys, "S", "B", "--everyone", "--user-name", "dave", "--wait", "20")
    assert code == 0 and "Warning: users and groups ignored" in err.splitlines()
    assert "dave@example.org" not in recipients(smtp_server)


def test_a_group_reaches_its_active_members(service, config, capsys, smtp_server):
    code, out, _ = broadcast(config, capsys, "S", "B", "--group-name", "lab", "--wait", "20")
    assert recipients(smtp_server) == ["carol@example.org"]
    assert "1 users had no email address" in out.splitlines()


def test_users_by_name_and_id(service, config, capsys, smtp_server):
    broadcast(config, capsys, "S", "B", "--user-name", "alice", "--user-id", "4", "--wait", "20")
    assert recipients(smtp_server) == ["alice@example.org", "carol@example.org"]


def test_unknown_names_get_an_error_line_each_and_the_rest_is_sent(service, config, capsys, smtp_server):
    code, _, err = broadcast(config, capsys, "S", "B", "--user-name", "nobody", "--group-name", "ghosts",
                             "--user-name", "alice", "--wait", "20")
    assert code == 0
    assert ["Unknown user: nobody", "Unknown group: ghosts"] == err.splitlines()[:2]
    assert recipients(smtp_server) == ["alice@example.org"]


def test_only_unknown_recipients_is_no_recipients(config, capsys, amqp_url):
    """admin.py email: a "no-body" CmdError with parameters -> die(12, "ApiUsageException:No recipients...")."""
    code, _, err = broadcast(config, capsys, "S", "B", "--user-name", "nobody")
    assert code == 12 and err.splitlines() == ["Unknown user: nobody", "ApiUsageException:No recipients specified."]


def test_no_recipient_option_is_omeros_no_recipients(config, capsys):
    """SendEmailRequestI.init: !everyone && no groups && no users -> "No recipients specified." (exit 12)."""
    code, _, err = broadcast(config, capsys, "S", "B")
    assert code == 12 and err.splitlines() == ["ApiUsageException:No recipients specified."]


def test_a_user_id_that_is_not_a_number_is_omeros_non_fatal_error(service, config, capsys, smtp_server):
    """cli.py find_user_by_id(fatal=False): error_invalid_userid "Not a valid user ID: %s", the rest is sent."""
    code, _, err = broadcast(config, capsys, "S", "B", "--user-id", "abc", "--user-id", "2", "--group-id", "x",
                             "--wait", "20")
    assert code == 0 and err.splitlines()[:2] == ["Not a valid user ID: abc", "Not a valid group ID: x"]
    assert recipients(smtp_server) == ["alice@example.org"]


def test_an_empty_body_is_omeros_no_body(config, capsys, amqp_url):
    """SendEmailRequestI.init: blank body -> "no-body", "Email must contain body." (admin.py: exit 12)."""
    code, _, err = broadcast(config, capsys, "S", "  ", "--everyone")
    assert code == 12 and err.splitlines() == ["ApiUsageException:Email must contain body."]


def test_an_empty_subject_is_omeros_no_subject(config, capsys, amqp_url):
    """SendEmailRequestI.init: blank subject -> "no-subject"; admin.py: die(13, "Failed to send emails:...")."""
    code, _, err = broadcast(config, capsys, " ", "B", "--everyone")
    assert code == 13 and err.splitlines()[0] == "Failed to send emails:"
    assert "Email must contain subject." in err.splitlines()[1]


def test_a_user_without_email_is_counted(service, config, capsys, smtp_server):
    code, out, _ = broadcast(config, capsys, "S", "B", "--user-name", "bob", "--user-name", "alice", "--wait", "20")
    assert out.splitlines()[1:] == ["Successfully sent 1 of 1 emails", "1 users had no email address"]


def test_cc_addresses_get_one_copy_shown_as_cc(service, config, capsys, smtp_server):
    broadcast(config, capsys, "S", "B", "--user-name", "alice", "--user-name", "carol",
              "--cc", "x@example.org", "--cc", "y@example.org", "--wait", "20")
    messages = smtp_server.messages
    assert len(messages) == 3
    copy = next(m for m in messages if m["To"] == "x@example.org")
    assert copy["Cc"] == "y@example.org"
    assert all(m["Cc"] is None for m in messages if m is not copy)


def test_bcc_addresses_are_in_no_header_another_recipient_sees(service, config, capsys, smtp_server):
    broadcast(config, capsys, "S", "B", "--user-name", "alice", "--cc", "x@example.org",
              "--bcc", "z@example.org", "--wait", "20")
    assert "z@example.org" in recipients(smtp_server)
    for received in smtp_server.received:
        if received.rcpt_tos != ["z@example.org"]:
            assert b"z@example.org" not in received.data
    assert all(m["Bcc"] is None for m in smtp_server.messages)


def test_html_is_sent_as_multipart_with_a_text_part(service, config, capsys, smtp_server):
    broadcast(config, capsys, "S", "<p>Down at <b>noon</b></p>", "--html", "--user-name", "alice", "--wait", "20")
    message = smtp_server.messages[0]
    assert message.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_content().strip() for p in message.iter_parts()}
    assert parts == {"text/plain": "Down at noon", "text/html": "<p>Down at <b>noon</b></p>"}


def test_the_body_is_read_from_standard_input_when_text_is_absent(service, config, capsys, smtp_server, monkeypatch):
    import io

    broadcast(config, capsys, "S", "--user-name", "alice", "--wait", "20", stdin=io.StringIO("From stdin\n"),
              monkeypatch=monkeypatch)
    assert smtp_server.messages[0].get_content() == "From stdin\n"


def test_a_non_admin_is_refused_by_the_command(config, capsys, amqp_url):
    """SendEmailRequestI.init: "no-permissions", "You have no permissions to send email." (admin.py: exit 13)."""
    code, _, err = broadcast(config, capsys, "S", "B", "--everyone", "--as", "carol")
    assert code == 13 and err.splitlines()[0] == "Failed to send emails:"
    assert "You have no permissions to send email." in err and "'carol' is not a member of system" in err


def test_a_non_admin_is_refused_again_by_the_consumer(service, publish, props, smtp_server):
    event = publish("admin.broadcast", {"subject": "S", "body": "B", "everyone": True, "requested_by": "carol"})
    url = props["omero.mail.broker.url"]
    wait_for(lambda: queue_depths(url, [topo.INVALID_QUEUE])[topo.INVALID_QUEUE] == 1, what="the broadcast parked")
    [(headers, body)] = take_all(url, topo.INVALID_QUEUE)
    assert json.loads(body)["id"] == event.id
    assert "'carol' is not a member of system" in headers["x-omero-mail-reason"]
    assert smtp_server.received == []


def test_a_from_address_not_configured_is_refused(config, capsys, amqp_url):
    code, _, err = broadcast(config, capsys, "S", "B", "--everyone", "--from", "boss@example.org")
    assert code == 13 and "not allowed" in err


def test_a_message_larger_than_omero_mail_broadcast_max_bytes_is_refused_and_nothing_is_queued(config, capsys,
                                                                                                 props):
    with open(config, "a") as extra:
        extra.write("omero.mail.broadcast.max-bytes=100\n")
    code, _, err = broadcast(config, capsys, "S", "x" * 101, "--everyone")
    assert code == 13 and err.splitlines() == [
        "Failed to send emails:", "the message is 101 bytes, and omero.mail.broadcast.max-bytes allows 100: each "
        "recipient's email carries it through RabbitMQ"]
    assert queue_depths(props["omero.mail.broker.url"], [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 0


def test_the_broadcast_is_delivered_although_the_command_is_killed_after_publishing(config, props, people,
                                                                                     make_service, smtp_server):
    declare_topology(props["omero.mail.broker.url"], topo.from_properties(props))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "consumer.admin.cli", "broadcast", "S", "B", "--everyone", "--inactive", "--wait",
         "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    assert "queued" in process.stdout.readline().decode()
    process.send_signal(signal.SIGKILL)
    process.wait()
    make_service(omero__mail__directory__file=str(people))
    smtp_server.wait_for_messages(4)
    assert recipients(smtp_server) == ["alice@example.org", "carol@example.org", "dave@example.org",
                                       "root@example.org"]


def broadcast_process(config, *args, terminal: bool) -> tuple[int, str]:
    """Run the command as its own process, standard output a pty or a pipe; (exit code, output)."""
    command = [sys.executable, "-m", "consumer.admin.cli", "broadcast", *args, "--config", str(config),
               "--log-level", "ERROR"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not terminal:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, env=env, cwd=ROOT, timeout=60)
        return done.returncode, done.stdout.decode()
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.DEVNULL,
                               env=env, cwd=ROOT)
    os.close(follower)
    output = b""
    try:
        while select.select([leader], [], [], 60)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the command exited and closed its end of the pty
                break
            if not chunk:
                break
            output += chunk
        else:
            pytest.fail(f"no output for 60s; so far: {output!r}")
        code = process.wait(timeout=30)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
    return code, output.decode().replace("\r\n", "\n")


def test_on_a_terminal_broadcast_waits_by_default_and_prints_omeros_summary(service, config, smtp_server):
    """consumer/admin/commands/broadcast.py ``_should_wait``: sys.stdout.isatty(); omero admin email waits."""
    code, out = broadcast_process(config, "S", "B", "--everyone", terminal=True)
    assert code == 0 and "queued" in out.splitlines()[0]
    assert out.splitlines()[1:] == ["Successfully sent 3 of 3 emails", "2 users had no email address"]
    assert recipients(smtp_server) == ["alice@example.org", "carol@example.org", "root@example.org"]


def test_not_on_a_terminal_broadcast_returns_once_queued(config, props):
    declare_topology(props["omero.mail.broker.url"], topo.from_properties(props))
    # No consumer runs: a command that waited would never return.
    code, out = broadcast_process(config, "S", "B", "--everyone", terminal=False)
    assert code == 0 and [line.split()[2] for line in out.splitlines()] == ["queued:"]
    assert queue_depths(props["omero.mail.broker.url"], [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 1


class RefusingHandler(MaildirHandler):
    """Accepts every recipient but one, which it refuses with 550."""

    def __init__(self, refused: str):
        super().__init__()
        self.refused = refused

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def refusing_smtp():
    server = SMTPServer(port=free_port(), handler=RefusingHandler("carol@example.org")).start()
    yield server
    server.stop()


def test_wait_counts_a_failed_address_as_omero_does_and_exits_non_zero(make_service, people, config, capsys,
                                                                       refusing_smtp):
    """SendEmailRequestI.step: a MailException adds the address to rsp.invalidemails; our own line follows."""
    make_service(omero__mail__directory__file=str(people), omero__mail__port=str(refusing_smtp.port))
    code, out, _ = broadcast(config, capsys, "S", "B", "--everyone", "--wait", "30")
    assert code == 1
    assert out.splitlines()[1:] == [
        "Successfully sent 2 of 3 emails",
        "2 users had no email address",
        "1 email addresses were invalid",
        "1 emails failed (omero-mail failed list shows why)",
    ]


def test_status_shows_the_outcome_after_the_command_exited(service, config, capsys, smtp_server):
    _, out, _ = broadcast(config, capsys, "S", "B", "--everyone")
    event_id = out.split()[1]
    smtp_server.wait_for_messages(3)
    wait_for(lambda: "Successfully sent 3 of 3" in broadcast(config, capsys, "status", event_id)[1],
             what="the status to show every email sent")
    code, out, _ = broadcast(config, capsys, "status", event_id)
    assert code == 0
    assert out.splitlines() == [f"Broadcast {event_id}", "Successfully sent 3 of 3 emails",
                                "2 users had no email address"]


def test_status_takes_a_prefix_of_the_broadcast_id(service, config, capsys, smtp_server):
    _, out, _ = broadcast(config, capsys, "S", "B", "--everyone")
    event_id = out.split()[1]
    smtp_server.wait_for_messages(3)
    wait_for(lambda: "Successfully sent 3 of 3" in broadcast(config, capsys, "status", event_id[:8])[1],
             what="the status by prefix")
    assert broadcast(config, capsys, "status", event_id[:8])[1].splitlines()[0] == f"Broadcast {event_id}"


def test_status_of_a_queued_broadcast_not_yet_planned_says_so(config, capsys, props):
    declare_topology(props["omero.mail.broker.url"], topo.from_properties(props))
    _, out, _ = broadcast(config, capsys, "S", "B", "--everyone")
    code, out, _ = broadcast(config, capsys, "status", out.split()[1])
    assert code == 0 and "Not planned yet" in out


def test_status_of_an_unknown_broadcast_says_so_and_creates_nothing(config, capsys, props, amqp_url):
    unknown = "2b0e5d1c-8e5e-4fad-8c22-3c58af2a1e87"
    code, _, err = broadcast(config, capsys, "status", unknown)
    assert code == 1 and err.splitlines() == [f"No broadcast {unknown!r} is known (none queued with this ID, or "
                                              "its outcomes expired after omero.mail.broadcast.results.expires)"]
    with pika.BlockingConnection(pika.URLParameters(props["omero.mail.broker.url"])) as connection:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            connection.channel().queue_declare(topo.broadcast_queue(unknown), passive=True)


def test_status_of_an_empty_id_is_a_usage_error(config, capsys):
    code, _, err = broadcast(config, capsys, "status", " ")
    assert code == 2 and "an empty one names none" in err


@pytest.mark.parametrize("args", [["status"], ["status", "--everyone"], ["status", "x", "--user-name", "alice"],
                                  ["status", "x", "y"]])
def test_status_is_never_taken_as_a_subject(config, capsys, smtp_server, args):
    code, _, err = broadcast(config, capsys, *args)
    assert code == 2 and "`status` is never a subject" in err
    assert smtp_server.received == []


def test_a_broadcast_with_no_recipient_prints_no_progress_line(service, config, capsys, tmp_path, smtp_server):
    code, out, err = broadcast(config, capsys, "S", "B", "--user-name", "bob", "--wait", "20")
    assert code == 0 and out.splitlines()[1:] == ["Successfully sent 0 of 0 emails", "1 users had no email address"]
    assert "Sending" not in err


def test_a_refused_broadcast_is_logged_as_one_warning_line_without_a_traceback(service, publish, props, caplog):
    with caplog.at_level("INFO"):
        event = publish("admin.broadcast", {"subject": "S", "body": "B", "everyone": True, "requested_by": "carol"})
        url = props["omero.mail.broker.url"]
        wait_for(lambda: queue_depths(url, [topo.INVALID_QUEUE])[topo.INVALID_QUEUE] == 1, what="the broadcast parked")
    about = [r for r in caplog.records if event.id in r.getMessage()]
    assert [r.levelname for r in about] == ["WARNING"]
    assert about[0].exc_info is None and "'carol' is not a member of system" in about[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= 40]


def test_an_experimenter_address_with_a_display_name_is_mailed_with_it(make_service, config, capsys, smtp_server,
                                                                       tmp_path):
    """MailUtil.validateEmail (new InternetAddress(email).validate()) accepts it, so OMERO mails it."""
    people = write_directory(tmp_path / "named.json", [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
        {"id": 2, "omeName": "alice", "email": "Alice Admin <alice@example.org>", "groups": ["user"]},
    ])
    make_service(omero__mail__directory__file=str(people))
    config.write_text(config.read_text() + f"omero.mail.directory.file={people}\n")
    code, out, _ = broadcast(config, capsys, "S", "plain text", "--user-name", "alice", "--wait", "20")
    assert code == 0 and out.splitlines()[1:] == ["Successfully sent 1 of 1 emails"]
    [message] = smtp_server.messages
    assert recipients(smtp_server) == ["alice@example.org"] and message["To"] == "Alice Admin <alice@example.org>"
    # JavaMail MimeBodyPart.setText: MimeUtility.checkAscii(text) == ALL_ASCII -> charset "us-ascii".
    assert message.get_content_charset() == "us-ascii"
