#!/bin/sh
# omero-mail's broker users (README, Deployment). rabbitmqctl add_user asks for each
# password on standard input, so none is on a command line.
set -e

rabbitmqctl add_user 'omero-mail-rules'
rabbitmqctl set_permissions -p '/' 'omero-mail-rules' '^(omero\.events|omero\.mail|omero\.mail\.results|omero\.mail\.events|omero\.mail\.outbox|omero\.mail\.failed|omero\.mail\.invalid|omero\.mail\.rules\.state|omero\.mail\.activity|omero\.mail\.retry\.30s|omero\.mail\.retry\.5m|omero\.mail\.retry\.30m)$' '^(omero\.mail|omero\.mail\.results|omero\.mail\.events|omero\.mail\.outbox|omero\.mail\.failed|omero\.mail\.invalid|omero\.mail\.rules\.state|omero\.mail\.activity|omero\.mail\.retry\.30s|omero\.mail\.retry\.5m|omero\.mail\.retry\.30m|amq\.default)$' '^(omero\.events|omero\.mail|omero\.mail\.events|omero\.mail\.rules\.state)$'

rabbitmqctl add_user 'omero-mail-delivery'
rabbitmqctl set_permissions -p '/' 'omero-mail-delivery' '^(omero\.events|omero\.mail|omero\.mail\.results|omero\.mail\.events|omero\.mail\.outbox|omero\.mail\.failed|omero\.mail\.invalid|omero\.mail\.rules\.state|omero\.mail\.activity|omero\.mail\.retry\.30s|omero\.mail\.retry\.5m|omero\.mail\.retry\.30m)$' '^(omero\.mail|omero\.mail\.results|omero\.mail\.events|omero\.mail\.outbox|omero\.mail\.failed|omero\.mail\.invalid|omero\.mail\.rules\.state|omero\.mail\.activity|omero\.mail\.retry\.30s|omero\.mail\.retry\.5m|omero\.mail\.retry\.30m)$' '^(omero\.events|omero\.mail|omero\.mail\.outbox|omero\.mail\.failed|omero\.mail\.invalid)$'

rabbitmqctl add_user 'omero-mail-web'
rabbitmqctl set_permissions -p '/' 'omero-mail-web' '^$' '^(omero\.events)$' '^$'
rabbitmqctl set_topic_permissions -p '/' 'omero-mail-web' 'omero.events' '^(web\.error)$' '^$'

rabbitmqctl add_user 'omero-mail-bridge'
rabbitmqctl set_permissions -p '/' 'omero-mail-bridge' '^$' '^(omero\.events)$' '^$'
rabbitmqctl set_topic_permissions -p '/' 'omero-mail-bridge' 'omero.events' '^(server\.startup|server\.shutdown|login\.failed|object\.created|object\.updated|object\.deleted|comment\.added)$' '^$'

rabbitmqctl add_user 'omero-mail-replay'
rabbitmqctl set_permissions -p '/' 'omero-mail-replay' '^$' '^(omero\.events)$' '^(omero\.mail\.invalid)$'
rabbitmqctl set_topic_permissions -p '/' 'omero-mail-replay' 'omero.events' '^(server\.startup|server\.shutdown|login\.failed|object\.created|object\.updated|object\.deleted|comment\.added|web\.error)$' '^$'

rabbitmqctl add_user 'omero-mail-server'
rabbitmqctl set_permissions -p '/' 'omero-mail-server' '^$' '^(omero\.events)$' '^$'
rabbitmqctl set_topic_permissions -p '/' 'omero-mail-server' 'omero.events' '^(server\.startup|server\.shutdown)$' '^$'

rabbitmqctl add_user 'omero-mail-webapp'
rabbitmqctl set_permissions -p '/' 'omero-mail-webapp' '^(omero\.mail\.broadcasts|omero\.mail\.broadcast\..+)$' '^(omero\.events|omero\.mail\.results|omero\.mail\.broadcasts|omero\.mail\.broadcast\..+)$' '^(omero\.mail\.results|omero\.mail\.broadcasts|omero\.mail\.broadcast\..+)$'
rabbitmqctl set_topic_permissions -p '/' 'omero-mail-webapp' 'omero.events' '^(admin\.broadcast)$' '^$'
rabbitmqctl set_topic_permissions -p '/' 'omero-mail-webapp' 'omero.mail.results' '^[^.]+\.queued$' '.*'

rabbitmqctl add_user 'root'
rabbitmqctl set_permissions -p '/' 'root' '^(omero\.mail\.broadcasts|omero\.mail\.broadcast\..+)$' '^(omero\.events|omero\.mail\.results|omero\.mail\.broadcasts|omero\.mail\.broadcast\..+)$' '^(omero\.mail\.results|omero\.mail\.activity|omero\.mail\.broadcasts|omero\.mail\.broadcast\..+)$'
rabbitmqctl set_topic_permissions -p '/' 'root' 'omero.events' '^(admin\.broadcast)$' '^$'
rabbitmqctl set_topic_permissions -p '/' 'root' 'omero.mail.results' '^[^.]+\.queued$' '.*'
