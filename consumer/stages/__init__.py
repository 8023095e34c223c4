"""The long-lived stages of ``omero-mail consume``: rules and delivery, their worker base, their monitoring."""
