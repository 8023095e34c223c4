"""Who may do what: omero-mail's broker users, their RabbitMQ permissions, and the checks made on them."""
