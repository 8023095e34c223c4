"""/metrics and /healthz of a running consumer, against the real broker and SMTP server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from events import topology as topo

from .conftest import wait_for
from .services import free_port


def scrape(service, path: str = "/metrics") -> tuple[int, str]:
    url = f"http://127.0.0.1:{service.service.monitoring.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def sample(text: str, name: str) -> float:
    """The value of one sample line (``name`` includes its labels), 0 if absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def scrape_until(service, condition, what: str, path: str = "/metrics"):
    """Scrape until ``condition(status, text)`` holds; return (status, text)."""
    def attempt():
        answer = scrape(service, path)
        return answer if condition(*answer) else None
    return wait_for(attempt, what=what)


def metrics_service(make_service):
    return make_service(omero__mail__metrics__port=str(free_port()))


def test_sent_emails_are_counted_by_sender(make_service, publish, smtp_server):
    service = metrics_service(make_service)
    publish("server.startup")
    smtp_server.wait_for_messages(2)
    sent = 'omero_mail_emails_total{outcome="sent",sender="serverUpMailSender"}'
    wait_for(lambda: sample(scrape(service)[1], sent) == 2, what="two sent emails counted")


def test_consumed_events_are_counted_by_type_and_invalid_ones_apart(make_service, publish, smtp_server):
    service = metrics_service(make_service)
    publish("server.startup", raw=b"not json")
    publish("server.startup")
    smtp_server.wait_for_messages(2)
    _, text = scrape_until(service, lambda _, t: 'type="invalid"' in t, "the invalid event counted")
    assert sample(text, 'omero_mail_events_consumed_total{type="server.startup"}') == 1
    assert sample(text, 'omero_mail_events_consumed_total{type="invalid"}') == 1


def test_users_without_an_address_are_counted_as_skipped(make_service, publish, smtp_server):
    service = metrics_service(make_service)
    publish("server.startup")
    smtp_server.wait_for_messages(2)
    text = scrape(service)[1]
    assert sample(text, 'omero_mail_emails_total{outcome="skipped",sender="serverUpMailSender"}') == 1


def test_each_accepted_email_is_observed_in_the_latency_histogram(make_service, publish, smtp_server):
    service = metrics_service(make_service)
    publish("server.startup")
    smtp_server.wait_for_messages(2)
    wait_for(lambda: sample(scrape(service)[1], "omero_mail_delivery_latency_seconds_count") == 2,
             what="two latencies observed")


def test_queue_depths_are_exported_for_every_queue(make_service, publish, props):
    service = metrics_service(make_service)
    text = scrape(service)[1]
    for queue in (topo.OUTBOX_QUEUE, topo.FAILED_QUEUE, topo.INVALID_QUEUE, "omero.mail.retry.1s"):
        assert f'omero_mail_queue_messages{{queue="{queue}"}} 0.0' in text


def test_smtp_connections_are_reused_across_emails(make_service, publish, smtp_server):
    service = make_service(omero__mail__metrics__port=str(free_port()), omero__mail__delivery__connections="1")
    publish("server.startup")
    publish("server.shutdown")
    smtp_server.wait_for_messages(4)
    _, text = scrape_until(service, lambda _, t: sample(t, "omero_mail_smtp_messages_total") == 4,
                           "four messages counted")
    assert sample(text, "omero_mail_smtp_connections_opened_total") == 1


def test_health_is_ok_while_connected(make_service):
    service = metrics_service(make_service)
    status, body = scrape(service, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_health_is_unhealthy_when_the_broker_connection_is_down(make_service, rabbitmq, props):
    service = metrics_service(make_service)
    vhost = props["omero.mail.broker.url"].rsplit("/", 1)[1]
    rabbitmq.ctl("delete_vhost", vhost)
    _, body = scrape_until(service, lambda status, _: status == 503, "an unhealthy answer", "/healthz")
    assert json.loads(body)["reason"] == "not connected to RabbitMQ"


def test_metrics_are_off_when_no_port_is_set(make_service):
    service = make_service()
    assert service.service.monitoring is None
