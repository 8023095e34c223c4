"""The private RabbitMQ nodes the fault tests rely on: one node, and a three-node cluster with quorum queues."""

from __future__ import annotations

from urllib.parse import unquote

import pika
import pytest

QUEUE = "omero-mail-test-quorum"


@pytest.mark.private_broker
def test_a_test_marked_private_broker_gets_its_vhost_on_the_private_node(amqp_url, private_rabbitmq, rabbitmq):
    vhost = unquote(amqp_url.rsplit("/", 1)[1])
    assert vhost in private_rabbitmq.vhosts() and vhost not in rabbitmq.vhosts()


@pytest.mark.slow
def test_three_private_nodes_form_one_cluster(rabbitmq_cluster):
    cluster = rabbitmq_cluster(3)
    assert cluster.running_nodes() == {node.name for node in cluster.nodes}


@pytest.mark.slow
def test_a_quorum_queue_declared_on_the_cluster_accepts_a_published_message(rabbitmq_cluster):
    cluster = rabbitmq_cluster(3)
    connection = pika.BlockingConnection(pika.URLParameters(cluster.seed.url()))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        channel.basic_publish("", QUEUE, b"hello", pika.BasicProperties(delivery_mode=2), mandatory=True)
    finally:
        connection.close()
    # Taken from another node: the queue is the cluster's, not the seed's.
    connection = pika.BlockingConnection(pika.URLParameters(cluster.nodes[-1].url()))
    try:
        method, _, body = connection.channel().basic_get(QUEUE, auto_ack=True)
    finally:
        connection.close()
    assert method is not None and body == b"hello"
