"""``make bench``: omero-mail's speed against an SMTP ceiling and a hand-written consumer.

Run on this machine's RabbitMQ (a vhost of its own, removed afterwards) and a local
aiosmtpd sink in a separate process. Prints figures; nothing here is a test.
"""
