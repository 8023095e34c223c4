"""omero-mail's admin app: OMERO.web's Email page, queued, and what the mail system did.

A Django app (``apps.py``, ``urls.py``, ``views/``, ``templates/omero_mail/``) that runs two ways
(README, "The web app"):

- inside OMERO.web, installed as every OMERO.web app is (``omero.web.apps``): OMERO.web's own
  login decides who is an admin (``access.py``), and pages extend OMERO.web's base templates;
- standalone, ``omero-mail web`` (``standalone.py``, ``server.py``) on waitress, where an admin logs
  in by proving the broker identity ``omero-mail broadcast`` uses (``login.py``).

Every page calls the same code as the commands (broadcasting, results, parking, the queue
depths): the app adds no second implementation of what omero-mail does.
"""
