"""What omero-mail is measured against: the SMTP sink's ceiling, and the consumer a site
would write by hand (pika, EmailMessage, smtplib on one reused connection, ack)."""

from __future__ import annotations

import json
import smtplib
import threading
import time
from email.message import EmailMessage

import pika


def smtp_ceiling(port: int, messages: list[tuple[str, str, bytes]], connections: int) -> float:
    """Messages/s the sink accepts from plain smtplib: prebuilt bytes, reused connections."""
    shares = [messages[i::connections] for i in range(connections)]

    def send(share):
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for mail_from, to, data in share:
                smtp.sendmail(mail_from, [to], data)

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(messages) / (time.perf_counter() - started)


def naive_consumer(url: str, queue: str, count: int, port: int, addresses: dict[int, str]) -> float:
    """Events/s of the hand-written consumer over ``count`` events already in ``queue``."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=100)
    smtp = smtplib.SMTP("127.0.0.1", port)
    done = 0
    started = time.perf_counter()

    def on_message(ch, method, _props, body):
        nonlocal done
        event = json.loads(body)
        data = event["data"]
        message = EmailMessage()
        message["From"] = "omero@bench.example.org"
        message["To"] = addresses[data["image_owner_id"]]
        message["Subject"] = "[OMERO] INSERT CommentAnnotation notification"
        message["Message-ID"] = f"<{event['id']}@bench.example.org>"
        message.set_content("Modified objects:\nclass ome.model.annotations.CommentAnnotation:"
                            f"{data['comment_id']} - INSERT\n")
        smtp.send_message(message)
        ch.basic_ack(method.delivery_tag)
        done += 1
        if done == count:
            ch.stop_consuming()

    channel.basic_consume(queue, on_message)
    channel.start_consuming()
    elapsed = time.perf_counter() - started
    smtp.quit()
    connection.close()
    return count / elapsed
