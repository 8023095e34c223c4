"""The bridge from a running OMERO to RabbitMQ: what OMERO writes becomes events.

OMERO's own senders run inside its server. The bridge reads, read-only, what OMERO
already records, and publishes the events those senders would have answered:

- ``eventlog`` rows in OMERO's database (``eventlog.py``, ``mapping.py``), with a cursor
  that survives late commits (``cursor.py``), restarts and ``kill -9`` (``state.py``);
- failed logins and server start and stop in OMERO's ``var/log/Blitz-0.log``
  (``omerolog.py``), followed across rotation and truncation (``follow.py``).

One bridge is active per OMERO database, the others stand by (``leader.py``). The loop
is ``service.py``; its settings, checked at start, ``settings.py``.
"""
