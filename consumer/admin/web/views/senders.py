"""The active sender rules: what ``omero-mail senders`` lists, read from the files the consumer reads.

The same :func:`~consumer.admin.commands.senders.listing` as the command, from the same
``omero.mail.senders.dir``; a broken file is the same one line the command prints (file, line,
bean, reason), and the page says it instead of the table.
"""

from events.config import redact

from ...commands import CommandError
from ...commands.senders import listing
from .. import site
from ..access import admin_page
from ..pages import page as render_page


@admin_page
def page(request):
    from senders.xmlconfig import SenderConfigError

    try:
        found = listing(site.properties())
    except (SenderConfigError, CommandError) as exc:
        return render_page(request, "omero_mail/senders.html", {"error": redact(str(exc))}, section="Senders")
    return render_page(request, "omero_mail/senders.html", {"listing": found}, section="Senders")
