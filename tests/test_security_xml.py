"""Hostile XML: the senders files and OMERO's config.xml refuse entities, external
references and oversized files, with an error naming the file, and never fetch anything."""

from __future__ import annotations

import http.server
import threading

import pytest

from events.config import MAX_OMERO_CONFIG_BYTES, ConfigError, read_omero_config_xml
from senders.xmlconfig import MAX_FILE_BYTES, SenderConfigError, load_senders

from .services import free_port

SENDER = '<sender id="serverUpMailSender" class="ServerUpMailSender"/>'

XXE_FILE = """<?xml version="1.0"?>
<!DOCTYPE mail-senders [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<mail-senders><sender id="s" class="ServerUpMailSender">\
<property name="defaultBody" value="&secret;"/></sender></mail-senders>
"""
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE mail-senders [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<mail-senders><sender id="s" class="ServerUpMailSender">\
<property name="defaultBody" value="&lol9;"/></sender></mail-senders>
"""
PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE mail-senders [<!ENTITY % remote SYSTEM "{url}/evil.dtd"> %remote;]>
<mail-senders>""" + SENDER + "</mail-senders>\n"
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE mail-senders SYSTEM "{url}/evil.dtd">
<mail-senders>""" + SENDER + "</mail-senders>\n"
EXTERNAL_ENTITY_URL = """<?xml version="1.0"?>
<!DOCTYPE mail-senders [<!ENTITY remote SYSTEM "{url}/secret">]>
<mail-senders><sender id="s" class="ServerUpMailSender">\
<property name="defaultBody" value="&remote;"/></sender></mail-senders>
"""


class RecordingServer:
    """An HTTP server that records every request: the parser must never make one."""

    def __init__(self):
        self.requests: list[str] = []
        recorded = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                recorded.append(self.path)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'<!ENTITY leak "leaked">')

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_server():
    with RecordingServer() as server:
        yield server


def senders_file(tmp_path, text: str):
    folder = tmp_path / "senders"
    folder.mkdir(exist_ok=True)
    path = folder / "mail-senders.xml"
    path.write_text(text)
    return folder, path


def config_xml(tmp_path, text: str):
    path = tmp_path / "config.xml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text", [XXE_FILE, BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
def test_a_senders_file_with_entities_is_refused_naming_the_file(tmp_path, text):
    folder, path = senders_file(tmp_path, text)
    with pytest.raises(SenderConfigError, match="refused") as error:
        load_senders(folder)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("template", [PARAMETER_ENTITY, EXTERNAL_ENTITY_URL],
                         ids=["parameter-entity", "external-entity"])
def test_a_senders_file_with_external_references_is_refused_and_fetches_nothing(tmp_path, http_server, template):
    folder, path = senders_file(tmp_path, template.format(url=http_server.url))
    with pytest.raises(SenderConfigError) as error:
        load_senders(folder)
    assert str(path) in str(error.value)
    assert http_server.requests == []


def test_a_senders_file_naming_an_external_dtd_never_fetches_it(tmp_path, http_server):
    folder, path = senders_file(tmp_path, EXTERNAL_DTD.format(url=http_server.url))
    try:
        senders = load_senders(folder)
    except SenderConfigError as error:
        assert str(path) in str(error)
    else:
        assert [s.id for s in senders] == ["serverUpMailSender"]
    assert http_server.requests == []


def test_an_oversized_senders_file_is_refused_before_it_is_parsed(tmp_path):
    padding = "<!-- " + "x" * MAX_FILE_BYTES + " -->"
    folder, path = senders_file(tmp_path, f"<mail-senders>{padding}{SENDER}</mail-senders>")
    with pytest.raises(SenderConfigError, match="larger than") as error:
        load_senders(folder)
    assert str(path) in str(error.value)


def config_with_doctype(doctype: str, value: str = "smtp.example.org") -> str:
    return (f'<?xml version="1.0"?>\n{doctype}\n<icegrid><properties id="default">'
            f'<property name="omero.mail.host" value="{value}"/></properties></icegrid>\n')


@pytest.mark.parametrize("doctype, value", [
    ('<!DOCTYPE icegrid [<!ENTITY secret SYSTEM "file:///etc/passwd">]>', "&secret;"),
    ('<!DOCTYPE icegrid [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>', "&b;"),
    ('<!DOCTYPE icegrid SYSTEM "{url}/evil.dtd">', "smtp.example.org"),
    ('<!DOCTYPE icegrid [<!ENTITY % remote SYSTEM "{url}/evil.dtd"> %remote;]>', "smtp.example.org"),
], ids=["xxe", "entity-expansion", "external-dtd", "parameter-entity"])
def test_omeros_config_xml_with_a_dtd_is_refused_naming_the_file_and_fetches_nothing(
        tmp_path, http_server, doctype, value):
    path = config_xml(tmp_path, config_with_doctype(doctype.format(url=http_server.url), value))
    with pytest.raises(ConfigError, match="refusing OMERO config") as error:
        read_omero_config_xml(path)
    assert str(path) in str(error.value)
    assert http_server.requests == []


def test_an_oversized_omero_config_xml_is_refused_naming_the_file(tmp_path):
    padding = "<!-- " + "x" * MAX_OMERO_CONFIG_BYTES + " -->"
    path = config_xml(tmp_path, config_with_doctype(padding))
    with pytest.raises(ConfigError, match="larger than") as error:
        read_omero_config_xml(path)
    assert str(path) in str(error.value)


def test_a_plain_omero_config_xml_still_loads(tmp_path):
    path = config_xml(tmp_path, config_with_doctype(""))
    assert read_omero_config_xml(path)["omero.mail.host"] == "smtp.example.org"
