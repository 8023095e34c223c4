"""The app's pages; inside OMERO.web they sit under ``/omero_mail/`` (OMERO.web includes each app by label)."""

from django.urls import path, re_path

from .views import broadcasts, compose, health, parking, senders

LOT = r"(?P<lot>failed|invalid)"

urlpatterns = [
    path("", compose.index, name="omero_mail_index"),
    path("email/", compose.page, name="omero_mail_compose"),
    path("broadcasts/", broadcasts.listing, name="omero_mail_broadcasts"),
    path("broadcasts/<uuid:event_id>/", broadcasts.detail, name="omero_mail_broadcast"),
    path("broadcasts/<uuid:event_id>/progress", broadcasts.progress, name="omero_mail_broadcast_progress"),
    re_path(rf"^parking/{LOT}/$", parking.listing, name="omero_mail_parking"),
    re_path(rf"^parking/{LOT}/act/$", parking.act, name="omero_mail_parking_act"),
    re_path(rf"^parking/{LOT}/(?P<parked_id>[^/]+)/$", parking.detail, name="omero_mail_parked"),
    path("health/", health.page, name="omero_mail_health"),
    path("health.json", health.data, name="omero_mail_health_data"),
    path("senders/", senders.page, name="omero_mail_senders"),
]
