"""The top floor: the long-lived stages, what they remember, who may do what, and the admin tools.

- ``stages/``: the processes ``omero-mail consume`` runs (rules, delivery) and their monitoring;
- ``memory/``: what the rules stage remembers across restarts (state, duplicates, flood windows);
- ``access/``: the broker users, their permissions, and the checks the stages make on them;
- ``admin/``: what an admin runs: the ``omero-mail`` commands and the web app;
- ``outbox.py`` and ``outcomes.py``: the messages the stages pass on and report, shared by all.
"""
