"""The app's Django configuration: ``consumer.admin.web`` in ``INSTALLED_APPS`` (OMERO.web's ``omero.web.apps``)."""

from django.apps import AppConfig


class OmeroMailConfig(AppConfig):
    name = "consumer.admin.web"
    label = "omero_mail"
    verbose_name = "omero-mail"
