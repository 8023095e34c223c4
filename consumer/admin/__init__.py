"""What an admin runs: the ``omero-mail`` commands, the parking lots, broadcasts' outcomes, the web app."""
