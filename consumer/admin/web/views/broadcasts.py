"""The recent broadcasts and their outcomes (placeholder until the page is built)."""

from ..access import admin_page
from ..pages import page as render_page


@admin_page
def listing(request):
    return render_page(request, "omero_mail/placeholder.html", {"title": "Broadcasts"}, section="Broadcasts")


@admin_page
def detail(request, event_id):
    return render_page(request, "omero_mail/placeholder.html", {"title": "Broadcast"}, section="Broadcasts")


@admin_page
def progress(request, event_id):
    return render_page(request, "omero_mail/placeholder.html", {"title": "Broadcast"}, section="Broadcasts")
