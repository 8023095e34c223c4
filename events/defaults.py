"""Every property omero-mail reads, with its default: OMERO's list (``omero-common.properties``), then ours.

One table, read whole, so that an admin's key is checked against it (``events/config.py``
warns about a key it does not hold, naming the nearest). A comment says what a key of ours
is for, where its name does not.
"""

from __future__ import annotations

#: OMERO's defaults (omero-common.properties), then this project's own keys.
DEFAULTS: dict[str, str] = {
    "omero.mail.config": "false",
    "omero.mail.host": "localhost",
    "omero.mail.port": "25",
    "omero.mail.from": "omero@${omero.mail.host}",
    "omero.mail.username": "",
    "omero.mail.password": "",
    # A file holding the password, so it need not be in the environment or a properties file.
    "omero.mail.password.file": "",
    "omero.mail.transport.protocol": "smtp",
    "omero.mail.smtp.auth": "false",
    "omero.mail.smtp.starttls.enable": "false",
    "omero.mail.smtp.connectiontimeout": "60000",
    "omero.mail.smtp.timeout": "60000",
    "omero.mail.smtp.debug": "false",
    "omero.mail.smtp.socketFactory.class": "javax.net.SocketFactory",
    "omero.mail.smtp.socketFactory.port": "${omero.mail.port}",
    "omero.mail.smtp.socketFactory.fallback": "false",
    "omero.mail.bean": "defaultMailSender",
    # omero-mail's own keys
    "omero.mail.broker.url": "amqp://guest:guest@localhost:5672/%2F",
    "omero.mail.broker.heartbeat": "60",
    "omero.mail.consumer.prefetch": "100",
    "omero.mail.delivery.connections": "2",
    "omero.mail.senders.dir": "${OMERODIR}/etc/blitz",
    "omero.mail.directory.backend": "json",
    "omero.mail.directory.file": "",
    "omero.mail.directory.refresh": "60",
    "omero.mail.directory.dsn": "",
    # OMERO's database properties: the PostgreSQL directory's DSN when the one above is empty
    "omero.db.host": "localhost",
    "omero.db.port": "5432",
    "omero.db.name": "omero",
    "omero.db.user": "omero",
    "omero.db.pass": "omero",
    "omero.mail.maildir.path": "var/mail",
    "omero.mail.source": "omero-mail@${omero.mail.host}",
    "omero.mail.retry.delays": "30s,5m,30m",
    "omero.mail.queue.type": "auto",
    "omero.mail.queue.delivery-limit": "5",
    "omero.mail.log.addresses": "false",
    "omero.mail.broadcast.user": "root",
    "omero.mail.broadcast.from": "",
    "omero.mail.broadcast.results.expires": "168h",
    # Who may publish what (README, Security). Off: the development default (guest) checks
    # nothing, and the consumer says so at start.
    "omero.mail.broker.check-publishers": "false",
    "omero.mail.broker.rules-user": "omero-mail-rules",
    "omero.mail.broker.delivery-user": "omero-mail-delivery",
    "omero.mail.broker.web-user": "omero-mail-web",
    "omero.mail.broker.bridge-user": "omero-mail-bridge",
    "omero.mail.broker.replay-user": "omero-mail-replay",
    "omero.mail.broker.server-user": "omero-mail-server",
    # The OMERO.web app's: broadcasts for whichever admin is logged in, with a session proof
    "omero.mail.broker.webapp-user": "omero-mail-webapp",
    # Broker users allowed to broadcast as another OMERO admin than their own name: user:admin,...
    "omero.mail.broadcast.users": "",
    # The admin's own broker password for `omero-mail broadcast` (else asked on the terminal)
    "omero.mail.broadcast.password": "",
    "omero.mail.broadcast.password.file": "",
    # The largest broadcast message (body and HTML, in bytes; 0: no limit): each recipient's email
    # carries it through RabbitMQ
    "omero.mail.broadcast.max-bytes": "1048576",
    # How long `omero-mail broadcast` waits for RabbitMQ to confirm the broadcast
    "omero.mail.broadcast.timeout": "30s",
    # The web app (consumer/admin/web): the standalone server's address (`omero-mail web`), and the
    # broker URL the app publishes broadcasts with inside OMERO.web (its own broker user)
    "omero.mail.web.host": "127.0.0.1",
    "omero.mail.web.port": "4080",
    # Cookies only over HTTPS (set it when the app is served behind TLS)
    "omero.mail.web.secure-cookies": "false",
    "omero.mail.web.broker.url": "",
    # Behind a reverse proxy: its address (its X-Forwarded-For and -Proto are believed from it
    # alone; the host is the Host header's), and the names the app is reached by there
    "omero.mail.web.trusted-proxy": "",
    "omero.mail.web.allowed-hosts": "",
    # The web app's parking pages: the login each lot is read and replayed with, as `failed` and
    # `invalid` are given theirs (empty: omero.mail.broker.url, the commands' rule)
    "omero.mail.web.failed.broker.url": "",
    "omero.mail.web.invalid.broker.url": "",
    # OMERO.web's, for the web error sender
    "omero.web.admins": "[]",
    "omero.web.admins.email_subject_prefix": "[OMERO.web - admin notification]",
    "omero.mail.metrics.port": "",
    "omero.mail.metrics.host": "127.0.0.1",
    "omero.mail.health.stuck-after": "5m",
    # How often each consumer process reports what it did to omero.mail.activity, for the
    # web app's Health page (consumer/stages/activity.py); 0 = no reports
    "omero.mail.activity.interval": "1m",
    "omero.mail.queue.policies": "false",
    "omero.mail.flood.window": "10m",
    "omero.mail.flood.threshold": "3",
    # The rules stage's duplicate filter (consumer/memory/state.py)
    "omero.mail.dedupe.window": "24h",
    "omero.mail.dedupe.max": "100000",
    "omero.mail.smtp.ssl.verify": "true",
    "omero.mail.smtp.ssl.cafile": "",
    # The bridge from a running OMERO (omero-mail bridge)
    "omero.mail.bridge.dsn": "",
    "omero.mail.bridge.state": "${OMERODIR}/var/omero-mail/bridge-state.json",
    "omero.mail.bridge.log": "${OMERODIR}/var/log/Blitz-0.log",
    "omero.mail.bridge.poll": "1s",
    "omero.mail.bridge.batch": "1000",
    "omero.mail.bridge.actions": "INSERT,UPDATE,DELETE",
    "omero.mail.bridge.classes": "",
    "omero.mail.bridge.metrics.port": "",
}
