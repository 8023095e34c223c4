"""The queues' health (placeholder until the page is built)."""

from ..access import admin_page
from ..pages import page as render_page


@admin_page
def page(request):
    return render_page(request, "omero_mail/placeholder.html", {"title": "Health"}, section="Health")


@admin_page
def data(request):
    return render_page(request, "omero_mail/placeholder.html", {"title": "Health"}, section="Health")
