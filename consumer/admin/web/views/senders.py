"""The active sender rules (placeholder until the page is built)."""

from ..access import admin_page
from ..pages import page as render_page


@admin_page
def page(request):
    return render_page(request, "omero_mail/placeholder.html", {"title": "Senders"}, section="Senders")
