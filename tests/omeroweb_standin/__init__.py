"""OMERO.web, as far as the app meets it, for a site where omero-web cannot be installed.

omero-web needs omero-py, whose zeroc-ice 3.6.5 does not build on Python 3.11, so the app's
OMERO.web path is run against this stand-in, written from omero-web's own source:

- ``omeroweb/decorators.py``: ``login_required(isAdmin=True)`` as omero-web's: no session, a
  redirect to the login page with ``?url=``; a user who is not an admin, ``Http404``
  (``verify_is_admin``); otherwise the view gets ``conn`` and ``url`` keyword arguments.
  ``conn`` answers what the app asks of a BlitzGateway: ``isAdmin()``, ``getUser().getName()``,
  ``getEventContext().sessionUuid``.
- ``templates/webadmin/base.html``: the blocks of omero-web's ``webadmin/base.html`` and its
  bases that the app fills (``title``, ``link``, ``script``, ``content``, ``center_details``).
- ``serve.py``: Django configured as OMERO.web configures an app of ``omero.web.apps`` (in
  ``INSTALLED_APPS``, its URLs under ``^<label>/``, CSRF middleware), served on waitress.

Logging in is ``/standin/login/?user=NAME&admin=0|1&session=UUID``: what OMERO's login
would have decided.
"""
