"""The typed settings (events/settings.py): every typed property read and checked once, each
bad value one ConfigError line naming the key, the value, where it was set and the form."""

from __future__ import annotations

import logging
import re

import pytest

from events.config import DEFAULTS, ConfigError, Properties, env_name, is_known, load, nearest_known, \
    read_omero_config_xml
from events.settings import read_settings

CONFIG_XML = """<?xml version="1.0" encoding="UTF-8"?>
<icegrid>
  <properties id="__ACTIVE__"><property name="omero.config.profile" value="default"/></properties>
  <properties id="default"><property name="omero.mail.host" value="smtp.example"/></properties>
</icegrid>
"""


def settings_from_environment(**environ):
    return read_settings(load(environ=environ))


def test_a_bad_retry_delay_is_one_line_naming_the_key_the_value_and_the_form():
    with pytest.raises(ConfigError) as error:
        settings_from_environment(OMERO_MAIL_RETRY_DELAYS="30sec")
    assert str(error.value) == ("omero.mail.retry.delays='30sec' (from the environment): "
                                "expected comma-separated durations such as 30s,5m,30m")


def test_a_bad_stuck_after_is_one_line_naming_the_key_the_value_and_the_form():
    with pytest.raises(ConfigError) as error:
        settings_from_environment(OMERO_MAIL_HEALTH_STUCK_AFTER="5 minutes")
    assert str(error.value) == ("omero.mail.health.stuck-after='5 minutes' (from the environment): "
                                "expected a duration such as 30s, 5m or 1h")


def test_a_bad_value_from_a_properties_file_names_the_file(tmp_path):
    path = tmp_path / "site.properties"
    path.write_text("omero.mail.delivery.connections=two\n")
    with pytest.raises(ConfigError, match=re.escape(f"omero.mail.delivery.connections='two' (from {path})")):
        read_settings(load(config_files=[path], environ={}))


def test_a_flag_that_is_neither_true_nor_false_is_refused():
    with pytest.raises(ConfigError, match="omero.mail.smtp.ssl.verify='ture'.*expected true or false"):
        settings_from_environment(OMERO_MAIL_SMTP_SSL_VERIFY="ture")


def test_a_port_out_of_range_is_refused():
    with pytest.raises(ConfigError, match="omero.mail.port='70000'.*from 1 to 65535"):
        settings_from_environment(OMERO_MAIL_PORT="70000")


def test_a_queue_type_other_than_auto_classic_or_quorum_is_refused():
    with pytest.raises(ConfigError, match="omero.mail.queue.type='mirrored'.*expected auto, classic or quorum"):
        settings_from_environment(OMERO_MAIL_QUEUE_TYPE="mirrored")


def test_a_bad_per_type_flood_window_is_refused_with_its_key():
    with pytest.raises(ConfigError, match="omero.mail.flood.login.failed.window='soon'"):
        read_settings(Properties({"omero.mail.flood.login.failed.window": "soon"}))


def test_the_defaults_are_typed():
    settings = read_settings(Properties())
    assert settings.queues.retry_delays_ms == (30_000, 300_000, 1_800_000)
    assert (settings.smtp.port, settings.smtp.timeout, settings.smtp.verify) == (25, 60.0, True)
    assert settings.monitoring.port is None and settings.monitoring.stuck_after == 300.0


def test_omeros_ssl_socket_factory_means_implicit_tls_on_its_own_port():
    smtp = read_settings(Properties({"omero.mail.smtp.socketFactory.class": "javax.net.ssl.SSLSocketFactory",
                                     "omero.mail.smtp.socketFactory.port": "465"})).smtp
    assert (smtp.implicit_tls, smtp.port) == (True, 465)


def test_the_password_file_is_read_when_used_so_a_new_password_is_taken(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("first\n")
    password = read_settings(Properties({"omero.mail.password.file": str(secret)})).smtp.password
    secret.write_text("second\n")
    assert password.reveal() == "second"


def test_the_password_is_not_in_the_settings_repr():
    assert "s3cret" not in repr(read_settings(Properties({"omero.mail.password": "s3cret"})))


def test_a_dashed_key_is_set_by_an_environment_name_with_underscores():
    assert settings_from_environment(OMERO_MAIL_QUEUE_DELIVERY_LIMIT="9").queues.delivery_limit == 9


def test_the_old_dashed_environment_name_still_works():
    assert settings_from_environment(**{"OMERO_MAIL_HEALTH_STUCK-AFTER": "1m"}).monitoring.stuck_after == 60


def test_the_underscore_name_wins_over_the_old_dashed_one():
    settings = settings_from_environment(**{"OMERO_MAIL_QUEUE_DELIVERY-LIMIT": "3",
                                            "OMERO_MAIL_QUEUE_DELIVERY_LIMIT": "7"})
    assert settings.queues.delivery_limit == 7


def test_a_per_type_flood_property_is_set_from_the_environment():
    flood = settings_from_environment(OMERO_MAIL_FLOOD_LOGIN_FAILED_THRESHOLD="1",
                                      OMERO_MAIL_FLOOD_COMMENT_ADDED_KEY="image_id").flood
    assert flood.by_type["login.failed"].threshold == 1
    assert flood.by_type["comment.added"].key == ("image_id",)


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_every_property_has_an_environment_name_a_shell_and_systemd_accept(key):
    name = env_name(key)
    assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", name)
    assert load(environ={name: "from-env"})._raw[key] == "from-env"


def test_an_omerodir_without_config_xml_is_warned_about_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OMERODIR", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="events.config"):
        props = load(environ={})
    assert [r.getMessage() for r in caplog.records] == [
        f"OMERODIR={tmp_path} has no etc/grid/config.xml: OMERO's properties are not read "
        "(defaults, --config files and the environment only)"]
    assert props["omero.mail.host"] == "localhost"


def test_omero_config_naming_a_missing_profile_is_an_error(tmp_path, monkeypatch):
    path = tmp_path / "config.xml"
    path.write_text(CONFIG_XML)
    monkeypatch.setenv("OMERO_CONFIG", "prod")
    with pytest.raises(ConfigError, match=r"OMERO_CONFIG='prod': no such profile .* \(it has: default\)"):
        read_omero_config_xml(path)


def test_a_per_type_flood_key_is_known_and_a_typo_has_a_nearest_known_key():
    assert is_known("omero.mail.flood.login.failed.threshold") and is_known("omero.mail.password.file")
    assert not is_known("omero.mail.prot")
    assert nearest_known("omero.mail.prot") == "omero.mail.port"


@pytest.mark.parametrize("key, value, expected", [
    ("omero.mail.broadcast.results.expires", "7days", "a duration such as 30s, 5m or 1h"),
    ("omero.mail.broadcast.timeout", "0s", "a duration longer than 0"),
    ("omero.mail.broker.check-publishers", "perhaps", "true or false"),
    ("omero.mail.broadcast.users", "ops", "comma-separated broker-user:omero-admin pairs"),
])
def test_every_typed_property_a_command_reads_is_checked_with_the_others(key, value, expected):
    with pytest.raises(ConfigError, match=re.escape(f"{key}={value!r} (from the given values): expected {expected}")):
        read_settings(Properties({key: value}))


def test_the_broadcast_settings_are_typed():
    settings = read_settings(Properties({"omero.mail.broadcast.timeout": "2s",
                                         "omero.mail.broadcast.results.expires": "1h"}))
    assert (settings.broadcast_timeout, settings.broadcast_results_expires_ms) == (2.0, 3_600_000)


def test_a_per_type_flood_key_of_an_event_type_that_does_not_exist_is_not_known():
    assert not is_known("omero.mail.flood.login.faild.threshold")
    assert nearest_known("omero.mail.flood.login.faild.threshold") == "omero.mail.flood.login.failed.threshold"


def test_the_broker_url_is_not_in_the_settings_repr():
    assert "s3cret" not in repr(read_settings(Properties({"omero.mail.broker.url": "amqp://u:s3cret@h/%2F"})))


@pytest.mark.parametrize("value", ["nginx.example.org", "10.0.0.0/8", "127.0.0.1, 127.0.0.2"])
def test_the_trusted_proxy_is_one_ip_address(value):
    with pytest.raises(ConfigError, match=re.escape(
            f"omero.mail.web.trusted-proxy={value!r} (from the given values): expected one IP address, such as "
            "127.0.0.1, or empty")):
        read_settings(Properties({"omero.mail.web.trusted-proxy": value}))


def test_the_trusted_proxy_is_spelt_as_the_server_sees_the_peer():
    settings = read_settings(Properties({"omero.mail.web.trusted-proxy": " 0:0:0:0:0:0:0:1 "}))
    assert settings.web.trusted_proxy == "::1"


@pytest.mark.parametrize("value", ["*", "mail.example.org:443", "https://mail.example.org", "mail example"])
def test_an_allowed_host_is_a_name_without_wildcard_port_or_scheme(value):
    with pytest.raises(ConfigError, match=re.escape(
            f"omero.mail.web.allowed-hosts={value!r} (from the given values): expected comma-separated host names")):
        read_settings(Properties({"omero.mail.web.allowed-hosts": value}))


def test_the_allowed_hosts_are_a_list_of_names_and_domains():
    settings = read_settings(Properties({"omero.mail.web.allowed-hosts": "mail.example.org, .lab.example.org,"}))
    assert settings.web.allowed_hosts == ("mail.example.org", ".lab.example.org")
