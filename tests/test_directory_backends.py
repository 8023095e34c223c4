"""Both directory backends (a JSON file, OMERO's PostgreSQL tables) answer the same questions."""

from __future__ import annotations

import psycopg
import pytest

from events.config import ConfigError, Properties
from consumer.stages.service import make_directory
from senders.directory import DirectoryError, RefreshingDirectory, load_json_directory
from senders.pgdirectory import dsn_from_properties, load_postgres_directory

from .conftest import write_directory
from .services import free_port

GROUPS = [{"id": 0, "name": "system"}, {"id": 1, "name": "user"}, {"id": 2, "name": "guest"},
          {"id": 3, "name": "lab"}]
EXPERIMENTERS = [
    {"id": 0, "omeName": "root", "firstName": "root", "lastName": "root", "email": "root@example.org",
     "groups": ["system", "user"]},
    {"id": 1, "omeName": "guest", "firstName": "Guest", "lastName": "Account", "email": None, "groups": ["guest"]},
    {"id": 2, "omeName": "alice", "firstName": "Alice", "lastName": "Liddell", "email": "alice@example.org",
     "groups": ["system", "user", "lab"]},
    {"id": 3, "omeName": "bob", "firstName": "Bob", "lastName": "", "email": None, "groups": ["user", "lab"]},
    {"id": 4, "omeName": "carol", "firstName": "Carol", "lastName": "", "email": "carol@example.org", "groups": []},
]

#: OMERO's tables as far as README's "Directory" needs them (OMERO has more columns; they are not read).
OMERO_TABLES = """
create table experimenter (id bigint primary key, omename varchar(255) not null unique, firstname varchar(255) not null,
    middlename varchar(255), lastname varchar(255) not null, institution varchar(255), email varchar(255),
    ldap boolean not null default false);
create table experimentergroup (id bigint primary key, name varchar(255) not null unique,
    ldap boolean not null default false, description text);
create table groupexperimentermap (id bigint primary key, parent bigint not null references experimentergroup,
    child bigint not null references experimenter, owner boolean not null default false, child_index integer not null);
"""


def create_omero_tables(dsn: str, experimenters=EXPERIMENTERS, groups=GROUPS) -> None:
    ids = {g["name"]: g["id"] for g in groups}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(OMERO_TABLES)
        for g in groups:
            conn.execute("insert into experimentergroup (id, name) values (%s, %s)", (g["id"], g["name"]))
        link = 0
        for e in experimenters:
            conn.execute("insert into experimenter (id, omename, firstname, lastname, email) "
                         "values (%s, %s, %s, %s, %s)",
                         (e["id"], e["omeName"], e["firstName"], e["lastName"], e["email"]))
            for index, name in enumerate(e["groups"]):
                conn.execute("insert into groupexperimentermap (id, parent, child, child_index) "
                             "values (%s, %s, %s, %s)",
                             (link, ids[name], e["id"], index))
                link += 1


@pytest.fixture(params=["json", "postgres"])
def directory(request, tmp_path):
    if request.param == "json":
        return load_json_directory(write_directory(tmp_path / "d.json", EXPERIMENTERS, GROUPS))
    dsn = request.getfixturevalue("postgres_dsn")
    create_omero_tables(dsn)
    return load_postgres_directory(dsn)


def test_a_user_is_found_by_id_with_names_email_and_groups(directory):
    alice = directory.experimenter(2)
    assert (alice.omename, alice.firstname, alice.lastname, alice.email) == ("alice", "Alice", "Liddell",
                                                                            "alice@example.org")
    assert alice.groups == {"system", "user", "lab"}


def test_a_user_is_found_by_omename(directory):
    assert directory.experimenter_by_name("carol").id == 4


def test_an_unknown_user_is_none(directory):
    assert directory.experimenter(99) is None and directory.experimenter_by_name("mallory") is None


def test_a_user_without_email_has_none(directory):
    assert directory.experimenter(3).email is None


def test_members_of_a_group_by_name_or_id(directory):
    assert [e.omename for e in directory.members("lab")] == ["alice", "bob"]
    assert [e.omename for e in directory.members(3)] == ["alice", "bob"]


def test_admins_are_the_members_of_system(directory):
    assert [e.omename for e in directory.members("system")] == ["root", "alice"]


def test_active_users_are_the_members_of_user(directory):
    assert [e.omename for e in directory.members("user")] == ["root", "alice", "bob"]


def test_an_unknown_group_has_no_members(directory):
    assert directory.members("nope") == [] and directory.group("nope") is None


def test_a_group_is_found_by_name_or_id(directory):
    assert directory.group("lab").id == 3 and directory.group(2).name == "guest"


def test_every_experimenter_is_listed_by_id(directory):
    assert [e.id for e in directory.experimenters()] == [0, 1, 2, 3, 4]


def test_the_embedded_directory_holds_omeros_bootstrap_rows():
    directory = load_json_directory()
    assert [(e.id, e.omename, e.email) for e in directory.experimenters()] == [(0, "root", None), (1, "guest", None)]
    assert [directory.group(i).name for i in (0, 1, 2)] == ["system", "user", "guest"]
    assert [e.omename for e in directory.members("system")] == ["root"]


def test_the_postgres_directory_reads_in_a_read_only_transaction(postgres_dsn, monkeypatch):
    create_omero_tables(postgres_dsn)
    seen = []
    original = psycopg.Connection.execute

    def spy(self, query, *args, **kwargs):
        seen.append(original(self, "show transaction_read_only").fetchone()[0])
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", spy)
    load_postgres_directory(postgres_dsn)
    assert seen and set(seen) == {"on"}


def test_a_postgres_error_never_shows_the_password():
    dsn = f"host=127.0.0.1 port={free_port()} dbname=omero user=omero password=s3cret-pw connect_timeout=2"
    with pytest.raises(DirectoryError) as caught:
        load_postgres_directory(dsn)
    assert "s3cret-pw" not in str(caught.value) and "omero@127.0.0.1" in str(caught.value)


def test_the_dsn_comes_from_omeros_db_properties_when_not_given():
    props = Properties({"omero.db.host": "db.example.org", "omero.db.name": "omero5", "omero.db.pass": "pw"})
    dsn = dsn_from_properties(props)
    assert "host=db.example.org" in dsn and "dbname=omero5" in dsn and "password=pw" in dsn


def test_the_directory_dsn_property_wins_over_omeros_db_properties():
    props = Properties({"omero.mail.directory.dsn": "host=x dbname=y", "omero.db.host": "db.example.org"})
    assert dsn_from_properties(props) == "host=x dbname=y"


def test_the_service_reads_the_postgres_backend_when_configured(postgres_dsn):
    create_omero_tables(postgres_dsn)
    directory = make_directory(Properties({"omero.mail.directory.backend": "postgres",
                                           "omero.mail.directory.dsn": postgres_dsn}))
    assert [e.omename for e in directory().members("system")] == ["root", "alice"]


def test_an_unknown_backend_is_a_configuration_error():
    with pytest.raises(ConfigError, match="json or postgres"):
        make_directory(Properties({"omero.mail.directory.backend": "ldap"}))


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_directory_is_read_again_once_the_refresh_period_has_passed(tmp_path):
    path = write_directory(tmp_path / "d.json", EXPERIMENTERS[:1], GROUPS)
    clock = Clock()
    directory = RefreshingDirectory(lambda: load_json_directory(path), refresh=60, clock=clock)
    write_directory(path, EXPERIMENTERS, GROUPS)
    clock.now = 59
    assert len(directory().experimenters()) == 1
    clock.now = 60
    assert len(directory().experimenters()) == 5


def test_a_failed_refresh_keeps_the_last_directory_read(tmp_path):
    path = write_directory(tmp_path / "d.json", EXPERIMENTERS, GROUPS)
    clock = Clock()
    directory = RefreshingDirectory(lambda: load_json_directory(path), refresh=1, clock=clock)
    path.write_text("{not json")
    clock.now = 5
    assert len(directory().experimenters()) == 5


def test_a_postgres_directory_refresh_sees_a_new_user(postgres_dsn):
    create_omero_tables(postgres_dsn)
    clock = Clock()
    directory = RefreshingDirectory(lambda: load_postgres_directory(postgres_dsn), refresh=10, clock=clock)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("insert into experimenter (id, omename, firstname, lastname, email) "
                     "values (5, 'dave', 'Dave', '', 'dave@example.org')")
        conn.execute("insert into groupexperimentermap (id, parent, child, child_index) values (100, 0, 5, 0)")
    clock.now = 10
    assert [e.omename for e in directory().members("system")] == ["root", "alice", "dave"]


def test_json_and_postgres_backends_give_equal_rows(tmp_path, postgres_dsn):
    create_omero_tables(postgres_dsn)
    from_json = load_json_directory(write_directory(tmp_path / "d.json", EXPERIMENTERS, GROUPS))
    assert from_json.experimenters() == load_postgres_directory(postgres_dsn).experimenters()
