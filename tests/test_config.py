"""Properties are read as OMERO reads them: defaults, config.xml, key=value files, environment."""

from __future__ import annotations

import subprocess
import sys

import pytest

from events.config import ConfigError, Properties, load, read_omero_config_xml

CONFIG_XML = """<?xml version="1.0" encoding="UTF-8"?>
<icegrid>
  <properties id="__ACTIVE__">
    <property name="omero.config.profile" value="default"/>
    <property name="omero.config.version" value="5.1.0"/>
    <property name="omero.mail.host" value="active-copy.example"/>
  </properties>
  <properties id="default">
    <property name="omero.config.version" value="5.1.0"/>
    <property name="omero.mail.config" value="true"/>
    <property name="omero.mail.host" value="smtp.university.example"/>
    <property name="omero.mail.port" value="2525"/>
    <property name="omero.mail.password" value="xml-secret"/>
  </properties>
  <properties id="other">
    <property name="omero.mail.host" value="other.example"/>
  </properties>
  <include file="templates.xml"/>
</icegrid>
"""


@pytest.fixture
def config_xml(tmp_path):
    path = tmp_path / "config.xml"
    path.write_text(CONFIG_XML)
    return path


def test_defaults_are_omeros():
    props = load(environ={})
    assert props["omero.mail.config"] == "false"
    assert props["omero.mail.host"] == "localhost"
    assert props["omero.mail.port"] == "25"
    assert props["omero.mail.transport.protocol"] == "smtp"
    assert props["omero.mail.smtp.connectiontimeout"] == "60000"
    assert props["omero.mail.bean"] == "defaultMailSender"


def test_from_defaults_to_omero_at_the_mail_host():
    props = load(environ={"OMERO_MAIL_HOST": "mail.example.org"})
    assert props["omero.mail.from"] == "omero@mail.example.org"


def test_socket_factory_port_follows_the_mail_port():
    props = Properties({"omero.mail.port": "465"})
    assert props["omero.mail.smtp.socketFactory.port"] == "465"


def test_config_xml_gives_the_active_profiles_values(config_xml):
    props = load(omero_config=config_xml, environ={})
    assert props["omero.mail.host"] == "smtp.university.example"
    assert props["omero.mail.port"] == "2525"
    assert props.bool("omero.mail.config") is True


def test_omero_config_environment_variable_picks_another_profile(config_xml, monkeypatch):
    monkeypatch.setenv("OMERO_CONFIG", "other")
    assert read_omero_config_xml(config_xml)["omero.mail.host"] == "other.example"


def test_config_xml_is_found_under_omerodir(tmp_path, monkeypatch):
    grid = tmp_path / "etc" / "grid"
    grid.mkdir(parents=True)
    (grid / "config.xml").write_text(CONFIG_XML)
    monkeypatch.setenv("OMERODIR", str(tmp_path))
    assert load(environ={})["omero.mail.host"] == "smtp.university.example"


def test_a_properties_file_overrides_config_xml(config_xml, tmp_path):
    extra = tmp_path / "site.properties"
    extra.write_text("# site settings\nomero.mail.host = relay.example\n\nomero.mail.smtp.auth=true\n")
    props = load(config_files=[extra], omero_config=config_xml, environ={})
    assert props["omero.mail.host"] == "relay.example"
    assert props["omero.mail.port"] == "2525"
    assert props.bool("omero.mail.smtp.auth")


def test_later_properties_files_win(tmp_path):
    first, second = tmp_path / "a.properties", tmp_path / "b.properties"
    first.write_text("omero.mail.port=26\n")
    second.write_text("omero.mail.port=27\n")
    assert load(config_files=[first, second], environ={})["omero.mail.port"] == "27"


def test_environment_overrides_files_and_config_xml(config_xml, tmp_path):
    extra = tmp_path / "site.properties"
    extra.write_text("omero.mail.host=relay.example\n")
    props = load(config_files=[extra], omero_config=config_xml, environ={"OMERO_MAIL_HOST": "env.example"})
    assert props["omero.mail.host"] == "env.example"
    assert props.origin("omero.mail.host") == "environment"


def test_environment_names_map_to_camel_case_keys():
    props = load(environ={"OMERO_MAIL_SMTP_SOCKETFACTORY_CLASS": "javax.net.ssl.SSLSocketFactory",
                          "OMERO_MAIL_SMTP_STARTTLS_ENABLE": "true"})
    assert props["omero.mail.smtp.socketFactory.class"] == "javax.net.ssl.SSLSocketFactory"
    assert props.bool("omero.mail.smtp.starttls.enable")


def test_unrelated_environment_variables_are_not_properties():
    props = load(environ={"OMERO_MAIL_TEST_AMQP_URL": "amqp://x"})
    assert "omero.mail.test.amqp.url" not in props


def test_a_malformed_properties_line_names_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.properties"
    bad.write_text("omero.mail.host=ok\nthis line has no equals sign\n")
    with pytest.raises(ConfigError, match=r"bad.properties:2: expected key=value"):
        load(config_files=[bad], environ={})


def test_a_malformed_config_xml_names_the_file(tmp_path):
    bad = tmp_path / "config.xml"
    bad.write_text("<icegrid><properties>")
    with pytest.raises(ConfigError, match="config.xml"):
        load(omero_config=bad, environ={})


def test_a_reference_loop_is_an_error_not_a_hang():
    props = Properties({"a.b": "${c.d}", "c.d": "${a.b}"})
    with pytest.raises(ConfigError, match="loop"):
        props["a.b"]


def test_passwords_are_hidden_when_shown(config_xml):
    props = load(omero_config=config_xml, environ={"OMERO_MAIL_BROKER_URL": "amqp://u:brokerpw@h:5672/%2F"})
    assert props.shown("omero.mail.password") == "********"
    assert "brokerpw" not in props.shown("omero.mail.broker.url")
    assert props["omero.mail.password"] == "xml-secret"


def test_the_password_may_come_from_a_file(tmp_path):
    secret = tmp_path / "smtp.pw"
    secret.write_text("from-file\n")
    props = Properties({"omero.mail.password.file": str(secret)})
    assert props.secret("omero.mail.password") == "from-file"


def test_config_list_shows_every_property_with_passwords_hidden(config_xml):
    result = subprocess.run(
        [sys.executable, "-m", "consumer.admin.cli", "--omero-config", str(config_xml), "config", "list"],
        capture_output=True, text=True, env={"OMERO_MAIL_BROKER_URL": "amqp://u:brokerpw@h:5672/%2F", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "omero.mail.host=smtp.university.example" in result.stdout
    assert "omero.mail.password=********" in result.stdout
    assert "xml-secret" not in result.stdout and "brokerpw" not in result.stdout


def test_config_set_writes_a_key_value_line(tmp_path):
    path = tmp_path / "site.properties"
    path.write_text("omero.mail.host=old\n")
    for value in ("new.example", "newer.example"):
        subprocess.run([sys.executable, "-m", "consumer.admin.cli", "--config", str(path), "config", "set",
                        "omero.mail.host", value], check=True)
    assert path.read_text() == "omero.mail.host=newer.example\n"
