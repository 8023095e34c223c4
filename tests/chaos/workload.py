"""The run's OMERO activity, and the mails each piece of it must produce.

A thread does, at random (seeded) moments, what a busy OMERO does: users and groups
created, images commented on, failed logins and server starts in Blitz-0.log (all read by
the bridge), events published with ``omero-mail publish`` (OMERO.server's start and stop
as the server role, as its systemd unit does; failed logins as the bridge role),
OMERO.web error reports (a storm of identical ones now and then), and a couple of
``omero-mail broadcast``\\ s. Each is recorded in the history with the mails it must
produce under the example senders (etc/mail-senders.example, copied as .xml): who gets
one, its subject, the object line of its body, and the Message-ID the contract derives
from the event id when the id is known (``senders/mail.py``; the bridge's ids from
``events/bridge/mapping.py``).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import threading
import time

from events import topology as topo
from events.bridge.mapping import event_id
from events.broker import BrokerError, Message, Publisher
from events.schemas import new_event
from senders.mail import message_id, recipient_list

from .history import Expected, History
from .omero import Omero, Person
from .site import DOMAIN, OMERO_MAIL, WEB_ADMINS, Site

WEB_PREFIX = "[OMERO.web - admin notification]"
#: Identical web errors in a storm: 3 are mailed, the rest folded into one digest.
STORM = 6
ACTIONS = (("user", 20), ("comment", 20), ("group", 3), ("failed-login", 18), ("other-failed-login", 4),
           ("server", 4), ("publish", 7), ("web-error", 8), ("web-storm", 2), ("log-noise", 6))


def web_subject(path: str) -> str:
    return f"{WEB_PREFIX}ERROR (EXTERNAL IP): Internal Server Error: {path}"


class Workload:
    def __init__(self, site: Site, omero: Omero, history: History, seed: int, seconds: float):
        self.site, self.omero, self.history = site, omero, history
        self.random = random.Random(f"workload-{seed}")
        self.seconds = seconds
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-workload", daemon=True)
        self._web: Publisher | None = None
        #: The server role publishes OMERO.server's start and stop (its systemd unit); the bridge role the rest.
        self._publish_configs = {"server": site.config("publish-server", "server", offset=1),
                                 "bridge": site.config("publish-bridge", "bridge", offset=2)}
        self._broadcast_config = site.config("broadcast", "root", offset=2)
        self.admins = [p for p in omero.people if p.admin and p.email]
        self.broadcasts = 0

    # -- the thread ----------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(120)
        if self._web is not None:
            self._web.close()

    def _run(self) -> None:
        started = time.monotonic()
        broadcasts_at = [0.25 * self.seconds, 0.6 * self.seconds]
        kinds, weights = zip(*ACTIONS, strict=True)
        while not self._stop.wait(self.random.expovariate(1 / 0.9)):
            if broadcasts_at and time.monotonic() - started >= broadcasts_at[0]:
                broadcasts_at.pop(0)
                self._guarded(self.broadcast)
                continue
            kind = self.random.choices(kinds, weights)[0]
            self._guarded(getattr(self, kind.replace("-", "_")))

    def _guarded(self, action) -> None:
        self.count += 1
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - the workload goes on; the history says what failed
            self.history.note(f"workload: {action.__name__} failed: {type(exc).__name__}: {exc}")

    # -- OMERO's database, read by the bridge --------------------------------------
    def _bridge_mail(self, kind: str, sender: str, row: tuple[int, str], recipients: list[Person], subject: str,
                     key: str, cause: str) -> None:
        """``row``: its eventlog id and its event's time, which the bridge's event id is derived
        from (``events/bridge/mapping.py``); were that to change, the checker matches by content."""
        row_id, stored = row
        eid = event_id(self.omero.database_uuid, "eventlog", f"{row_id}@{stored}/{kind}")
        if self.omero.restores:
            cause += f", after restore {self.omero.restores}"
        now = time.time()
        self.history.expect(*(Expected(now, sender, p.email or "", subject, key,
                                       message_id(eid, sender, p.email or "", DOMAIN), cause, eventlog_ids=(row_id,))
                              for p in recipients))

    def user(self) -> None:
        name = f"chaos-{self.count}"
        with self.omero.gate:
            new, row, stored = self.omero.new_user(name, f"{name}@{DOMAIN}")
            self._bridge_mail("object.created", "newUserMailSender", (row, stored), self.admins,
                              "[OMERO] INSERT Experimenter notification",
                              f"class ome.model.meta.Experimenter:{new} - INSERT", f"user {name} (eventlog {row})")

    def group(self) -> None:
        root = [p for p in self.omero.people if p.name == "root"]
        with self.omero.gate:
            new, row, stored = self.omero.new_group(f"chaos-group-{self.count}")
            self._bridge_mail("object.created", "newGroupMailSender", (row, stored), root,
                              "[OMERO] INSERT ExperimenterGroup notification",
                              f"class ome.model.meta.ExperimenterGroup:{new} - INSERT",
                              f"group chaos-group-{self.count} (eventlog {row})")

    def comment(self) -> None:
        image, owner = self.random.choice(self.omero.images)
        commenter = self.random.choice(self.omero.people)
        with self.omero.gate:
            comment, row, stored = self.omero.comment(image, commenter, f"chaos comment {self.count}")
            # newCommentMailSender: the image's owner, when someone else commented.
            recipients = [owner] if commenter.id != owner.id else []
            self._bridge_mail("comment.added", "newCommentMailSender", (row, stored), recipients,
                              "[OMERO] INSERT CommentAnnotation notification",
                              f"class ome.model.annotations.CommentAnnotation:{comment} - INSERT",
                              f"comment {comment} by {commenter.name} on {owner.name}'s image {image} (eventlog {row})")

    # -- Blitz-0.log, read by the bridge -------------------------------------------
    def _log_mail(self, line: str, sender: str, subject: str, flood: bool, cause: str) -> None:
        eid = event_id(self.omero.database_uuid, "log", line)
        now = time.time()
        self.history.expect(*(Expected(now, sender, p.email or "", subject, "", message_id(eid, sender, p.email or "",
                                                                                          DOMAIN),
                                       cause, flood=flood) for p in self.admins))

    def failed_login(self) -> None:
        """A failed login for root: the admins are mailed (failedLoginMailSender, onSpecificUsers root)."""
        line = self.omero.log.failed_login("root")
        self._log_mail(line, "failedLoginMailSender", "[OMERO] Login failed for 'root'", True,
                       f"log: {line[-48:]}")

    def other_failed_login(self) -> None:
        """A failed login for someone the senders do not watch: no mail at all."""
        self.omero.log.failed_login(self.random.choice(["bob", "carol", "nobody"]))

    def server(self) -> None:
        if self.random.random() < 0.5:
            line = self.omero.log.server_stopping()
            self._log_mail(line, "serverDownMailSender", "[OMERO] Server shutdown", False, "log: server stopping")
        else:
            line = self.omero.log.server_started()
            self._log_mail(line, "serverUpMailSender", "[OMERO] Server started", False, "log: server started")

    def log_noise(self) -> None:
        self.omero.log.noise()

    # -- omero-mail publish (the systemd drop-ins, scripts) -------------------------
    def publish(self, kind: str | None = None) -> None:
        kind = kind or self.random.choice(["server.startup", "server.shutdown", "login.failed"])
        data = {"user": "root", "remote_addr": f"192.0.2.{self.random.randint(1, 254)}"} \
            if kind == "login.failed" else {}
        sender, subject = {"server.startup": ("serverUpMailSender", "[OMERO] Server started"),
                           "server.shutdown": ("serverDownMailSender", "[OMERO] Server shutdown"),
                           "login.failed": ("failedLoginMailSender", "[OMERO] Login failed for 'root'")}[kind]
        config = self._publish_configs["server" if kind.startswith("server.") else "bridge"]
        done = subprocess.run([str(OMERO_MAIL), "--config", str(config), "publish", kind, "--data", json.dumps(data)],
                              capture_output=True, text=True, timeout=120)
        found = re.search(r"published \S+ (\S+)", done.stdout)
        eid = found.group(1) if found and done.returncode == 0 else ""
        if not eid:
            self.history.note(f"omero-mail publish {kind} exited {done.returncode}: {done.stderr.strip()[-300:]}; "
                              "its mails may or may not come")
        now = time.time()
        self.history.expect(*(Expected(now, sender, p.email or "", subject, "",
                                       message_id(eid, sender, p.email or "", DOMAIN) if eid else "",
                                       f"omero-mail publish {kind} {eid}", required=bool(eid),
                                       flood=kind == "login.failed") for p in self.admins))

    # -- OMERO.web's error reports (the web role's hooks) ----------------------------
    def _web_error(self, path: str, flood: bool) -> None:
        event = new_event("web.error", {"status": 500, "method": "GET", "path": path, "exception": "ValueError",
                                        "remote_addr": "198.51.100.7"}, source="omero-web@chaos")
        try:
            if self._web is None:
                self._web = Publisher(self.site.url("web"), name="omero-web chaos")
            self._web.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
            confirmed = True
        except BrokerError as exc:
            self.history.note(f"web.error {event.id} not confirmed ({exc}); its mail may or may not come")
            if self._web is not None:
                self._web.close()
            self._web, confirmed = None, False
        admins = sorted(address for _name, address in WEB_ADMINS)
        mid = message_id(event.id, "webErrorMailSender", recipient_list(admins), DOMAIN)
        now = time.time()
        self.history.expect(*(Expected(now, "webErrorMailSender", address, web_subject(path), "", mid,
                                       f"web.error {path}", required=confirmed, flood=flood) for address in admins))

    def web_error(self) -> None:
        self._web_error(f"/webclient/chaos-{self.count}/", False)

    def web_storm(self) -> None:
        path = f"/webclient/storm-{self.count}/"
        for _ in range(STORM):
            self._web_error(path, True)

    # -- omero-mail broadcast, as root ---------------------------------------------
    def broadcast(self) -> None:
        self.broadcasts += 1
        subject = f"Chaos broadcast {self.broadcasts}"
        args = [str(OMERO_MAIL), "--config", str(self._broadcast_config), "broadcast", subject,
                "OMERO stops tonight.", "--group-name", "staff", "--no-wait"]
        env = {**os.environ, "OMERO_MAIL_BROADCAST_PASSWORD": self.site.passwords["root"]}
        eid, queued = "", False
        for _attempt in range(5):
            # Not queued for sure: the same broadcast again under its id, so its mails keep their Message-IDs.
            done = subprocess.run(args + (["--id", eid] if eid else []), capture_output=True, text=True, env=env,
                                  timeout=120)
            found = re.search(r"[Bb]roadcast ([0-9a-f-]{36})", done.stdout + done.stderr)
            eid = found.group(1) if found else eid
            queued = done.returncode == 0
            if queued:
                break
            self.history.note(f"broadcast {subject!r} exited {done.returncode}: {done.stderr.strip()[-300:]}")
            time.sleep(2)
        staff = [p for p in self.omero.people if p.staff and p.active and p.email]
        now = time.time()
        self.history.expect(*(Expected(now, "adminBroadcast", p.email or "", subject, "",
                                       message_id(eid, "adminBroadcast", p.email or "", DOMAIN) if eid else "",
                                       f"broadcast {eid}", required=queued) for p in staff))

    def final_marker(self) -> None:
        """One last event once every fault is healed: the active rules stage then catches up its state."""
        self.publish("server.startup")

