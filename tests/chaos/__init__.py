"""The chaos run: "every message settles, whatever comes", proven as Jepsen proves things.

The real system (the bridge, two rules stages, two delivery workers, each an OS process
of ``.venv/bin/omero-mail``) runs in production mode on a 3-node RabbitMQ cluster of its
own, against an OMERO database and Blitz-0.log, delivering to an SMTP server that
misbehaves. A seeded schedule injects faults while OMERO activity goes on; every fault,
every expected mail and every SMTP transaction is recorded; then a checker judges the
whole history against the invariants (``checker.py``). ``python -m tests.chaos --seed N``
runs the same schedule again.

Modules: ``site`` (cluster, database, settings), ``processes`` (the OS processes and
their supervisor), ``smtp`` (the misbehaving server), ``omero`` (OMERO's database and
log), ``workload`` (the activity and the mails it must produce), ``hostile`` (hostile
publishers), ``schedule`` (the seeded faults), ``faults`` (injecting them), ``history``,
``checker``, ``run`` and ``report``.
"""
