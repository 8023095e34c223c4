"""The parking lots (placeholder until the pages are built)."""

from ..access import admin_action, admin_page
from ..pages import page as render_page


@admin_page
def listing(request, lot):
    return render_page(request, "omero_mail/placeholder.html", {"title": lot}, section=lot)


@admin_page
def detail(request, lot, parked_id):
    return render_page(request, "omero_mail/placeholder.html", {"title": lot}, section=lot)


@admin_action
def act(request, lot):
    return render_page(request, "omero_mail/placeholder.html", {"title": lot}, section=lot)
