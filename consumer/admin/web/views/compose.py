"""OMERO's Email page, queued (placeholder until the page is built)."""

from django.shortcuts import redirect

from ..access import admin_page
from ..pages import page as render_page


@admin_page
def page(request):
    return render_page(request, "omero_mail/placeholder.html", {"title": "Email"}, section="Email")


@admin_page
def index(request):
    return redirect("omero_mail_compose")
