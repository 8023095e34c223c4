-- OMERO 5.6's tables that omero-mail reads (database schema OMERO5.4__0), as OMERO creates them:
-- columns, types and constraints from ome/openmicroscopy sql/psql/OMERO5.4__0/schema.sql, with the
-- changes of ome/omero-model src/main/resources/templates/psql-footer.vm applied (session.userIP,
-- image.series, the ldap defaults, configuration, _lock_ids, the seq_* sequences, ome_nextval).
-- Left out: the tables these do not point to, and the foreign keys to those.

CREATE DOMAIN nonnegative_int AS INTEGER CHECK (VALUE >= 0);

create table experimenter (
    id int8 not null, permissions int8 not null, email varchar(255),
    firstName varchar(255) not null, institution varchar(255),
    lastName varchar(255) not null, ldap bool not null default false,
    middleName varchar(255), omeName varchar(255) not null unique,
    version int4, external_id int8 unique, primary key (id));

create table experimentergroup (
    id int8 not null, description text, permissions int8 not null,
    ldap bool not null default false, name varchar(255) not null unique,
    version int4, external_id int8 unique, primary key (id));

create table groupexperimentermap (
    id int8 not null, permissions int8 not null, owner bool not null, version int4,
    child int8 not null, external_id int8 unique, parent int8 not null,
    child_index int4 not null,
    primary key (id), unique (parent, child), unique (child, child_index));

create table node (
    id int8 not null, conn text not null, permissions int8 not null, down timestamp,
    scale int4, up timestamp not null, uuid varchar(255) not null unique,
    version int4, external_id int8 unique, primary key (id));

create table session (
    id int8 not null, closed timestamp, defaultEventType varchar(255) not null,
    permissions int8 not null, message text, started timestamp not null,
    timeToIdle int8 not null, timeToLive int8 not null, userAgent varchar(255),
    userIP varchar(45),
    uuid varchar(255) not null unique, version int4, external_id int8 unique,
    node int8 not null, owner int8 not null, sudoer int8, primary key (id));

create table eventtype (
    id int8 not null, permissions int8 not null, value varchar(255) not null unique,
    external_id int8 unique, primary key (id));

create table event (
    id int8 not null, permissions int8 not null, status varchar(255),
    time timestamp not null, containingEvent int8, external_id int8 unique,
    experimenter int8 not null, experimenterGroup int8 not null,
    "session" int8 not null, type int8 not null, primary key (id));

create table eventlog (
    id int8 not null, action varchar(255) not null, permissions int8 not null,
    entityId int8 not null, entityType varchar(255) not null,
    external_id int8 unique, event int8 not null, primary key (id));

create table image (
    id int8 not null, acquisitionDate timestamp, archived bool, description text,
    permissions int8 not null, name text not null, partial bool,
    series nonnegative_int not null default 0,
    version int4, creation_id int8 not null, external_id int8 unique,
    group_id int8 not null, owner_id int8 not null, update_id int8 not null,
    experiment int8, fileset int8, format int8, imagingEnvironment int8,
    instrument int8, objectiveSettings int8, stageLabel int8, primary key (id));

create table annotation (
    discriminator varchar(31) not null, id int8 not null, description text,
    permissions int8 not null, name text, ns text, version int4, boolValue bool,
    textValue text, doubleValue float8, longValue int8, termValue text,
    timeValue timestamp, creation_id int8 not null, external_id int8 unique,
    group_id int8 not null, owner_id int8 not null, update_id int8 not null,
    "file" int8, primary key (id));

create table imageannotationlink (
    id int8 not null, permissions int8 not null, version int4, child int8 not null,
    creation_id int8 not null, external_id int8 unique, group_id int8 not null,
    owner_id int8 not null, update_id int8 not null, parent int8 not null,
    primary key (id), unique (parent, child, owner_id));

alter table groupexperimentermap add constraint FKgroupexperimentermap_parent_experimentergroup foreign key (parent) references experimentergroup;
alter table groupexperimentermap add constraint FKgroupexperimentermap_child_experimenter foreign key (child) references experimenter;
alter table session add constraint FKsession_owner_experimenter foreign key (owner) references experimenter;
alter table session add constraint FKsession_node_node foreign key (node) references node;
alter table session add constraint FKsession_sudoer_experimenter foreign key (sudoer) references experimenter;
alter table event add constraint FKevent_experimenterGroup_experimentergroup foreign key (experimenterGroup) references experimentergroup;
alter table event add constraint FKevent_session_session foreign key ("session") references session;
alter table event add constraint FKevent_experimenter_experimenter foreign key (experimenter) references experimenter;
alter table event add constraint FKevent_type_eventtype foreign key (type) references eventtype;
alter table event add constraint FKevent_containingEvent_event foreign key (containingEvent) references event;
alter table eventlog add constraint FKeventlog_event_event foreign key (event) references event;
alter table image add constraint FKimage_creation_id_event foreign key (creation_id) references event;
alter table image add constraint FKimage_update_id_event foreign key (update_id) references event;
alter table image add constraint FKimage_group_id_experimentergroup foreign key (group_id) references experimentergroup;
alter table image add constraint FKimage_owner_id_experimenter foreign key (owner_id) references experimenter;
alter table annotation add constraint FKannotation_creation_id_event foreign key (creation_id) references event;
alter table annotation add constraint FKannotation_update_id_event foreign key (update_id) references event;
alter table annotation add constraint FKannotation_group_id_experimentergroup foreign key (group_id) references experimentergroup;
alter table annotation add constraint FKannotation_owner_id_experimenter foreign key (owner_id) references experimenter;
alter table imageannotationlink add constraint FKimageannotationlink_creation_id_event foreign key (creation_id) references event;
alter table imageannotationlink add constraint FKimageannotationlink_update_id_event foreign key (update_id) references event;
alter table imageannotationlink add constraint FKimageannotationlink_group_id_experimentergroup foreign key (group_id) references experimentergroup;
alter table imageannotationlink add constraint FKimageannotationlink_owner_id_experimenter foreign key (owner_id) references experimenter;
alter table imageannotationlink add constraint FKimageannotationlink_parent_image foreign key (parent) references image;
alter table imageannotationlink add constraint FKimageannotationlink_child_annotation foreign key (child) references annotation;

-- psql-footer.vm
create table configuration ( name varchar(255) primary key, value text );
create index eventlog_entitytype on eventlog(entitytype);
create index eventlog_entityid on eventlog(entityid);
create index eventlog_action on eventlog(action);
CREATE INDEX i_EventLog_event ON eventlog(event);
CREATE INDEX i_Session_owner ON session(owner);
create index annotation_discriminator on annotation(discriminator);

create table _lock_ids ( name varchar(255) not null );
CREATE SEQUENCE _lock_seq;
ALTER TABLE _lock_ids ADD COLUMN id int PRIMARY KEY DEFAULT nextval('_lock_seq');
CREATE UNIQUE INDEX _lock_ids_name ON _lock_ids (name);

CREATE OR REPLACE FUNCTION ome_nextval(seq VARCHAR, increment int4) RETURNS INT8 AS '
DECLARE
      Lid  int4;
      nv   int8;
BEGIN
      SELECT id INTO Lid FROM _lock_ids WHERE name = seq;
      IF Lid IS NULL THEN
          SELECT INTO Lid nextval(''_lock_seq'');
          INSERT INTO _lock_ids (id, name) VALUES (Lid, seq);
      END IF;

      PERFORM pg_advisory_lock(1, Lid);

      BEGIN
          PERFORM nextval(seq) FROM generate_series(1, increment);
          SELECT currval(seq) INTO nv;
      EXCEPTION
          WHEN OTHERS THEN
              PERFORM pg_advisory_unlock(1, Lid);
          RAISE;
      END;

      PERFORM pg_advisory_unlock(1, Lid);

      RETURN nv;

END;' LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ome_nextval(seq VARCHAR) RETURNS INT8 AS '
BEGIN
      RETURN ome_nextval(seq, 1);
END;' LANGUAGE plpgsql;

CREATE SEQUENCE seq_eventlog; INSERT INTO _lock_ids (name, id) SELECT 'seq_eventlog', nextval('_lock_seq');
CREATE SEQUENCE seq_event; INSERT INTO _lock_ids (name, id) SELECT 'seq_event', nextval('_lock_seq');
CREATE SEQUENCE seq_eventtype; INSERT INTO _lock_ids (name, id) SELECT 'seq_eventtype', nextval('_lock_seq');
CREATE SEQUENCE seq_session; INSERT INTO _lock_ids (name, id) SELECT 'seq_session', nextval('_lock_seq');
CREATE SEQUENCE seq_node; INSERT INTO _lock_ids (name, id) SELECT 'seq_node', nextval('_lock_seq');
CREATE SEQUENCE seq_experimenter; INSERT INTO _lock_ids (name, id) SELECT 'seq_experimenter', nextval('_lock_seq');
CREATE SEQUENCE seq_experimentergroup; INSERT INTO _lock_ids (name, id) SELECT 'seq_experimentergroup', nextval('_lock_seq');
CREATE SEQUENCE seq_groupexperimentermap; INSERT INTO _lock_ids (name, id) SELECT 'seq_groupexperimentermap', nextval('_lock_seq');
CREATE SEQUENCE seq_image; INSERT INTO _lock_ids (name, id) SELECT 'seq_image', nextval('_lock_seq');
CREATE SEQUENCE seq_annotation; INSERT INTO _lock_ids (name, id) SELECT 'seq_annotation', nextval('_lock_seq');
CREATE SEQUENCE seq_imageannotationlink; INSERT INTO _lock_ids (name, id) SELECT 'seq_imageannotationlink', nextval('_lock_seq');

-- The bootstrap rows of psql-footer.vm that these tables hold.
insert into node (id, permissions, uuid, conn, up) values (0, -35, '000000000000000000000000000000000000', 'unknown', now());
insert into experimenter (id, permissions, version, omename, firstname, lastname) values (0, 0, 0, 'root', 'root', 'root');
insert into experimenter (id, permissions, version, omename, firstname, lastname)
    values (ome_nextval('seq_experimenter'), 0, 0, 'guest', 'Guest', 'Account');
insert into session (id, permissions, timetoidle, timetolive, started, closed, defaulteventtype, uuid, owner, node)
    select 0, -35, 0, 0, now(), now(), 'BOOTSTRAP', '0000', 0, 0;
insert into session (id, permissions, timetoidle, timetolive, started, closed, defaulteventtype, uuid, owner, node)
    select ome_nextval('seq_session'), -35, 0, 0, now(), now(), 'PREVIOUSITEMS', '1111', 0, 0;
insert into experimentergroup (id, permissions, version, name) values (0, -120, 0, 'system');
insert into experimentergroup (id, permissions, version, name) values (ome_nextval('seq_experimentergroup'), -52, 0, 'user');
insert into experimentergroup (id, permissions, version, name) values (ome_nextval('seq_experimentergroup'), -120, 0, 'guest');
insert into eventtype (id, permissions, value) values (0, -35, 'Bootstrap');
insert into eventtype (id, permissions, value) select ome_nextval('seq_eventtype'), -35, 'Import';
insert into eventtype (id, permissions, value) select ome_nextval('seq_eventtype'), -35, 'Internal';
insert into eventtype (id, permissions, value) select ome_nextval('seq_eventtype'), -35, 'Shoola';
insert into eventtype (id, permissions, value) select ome_nextval('seq_eventtype'), -35, 'User';
insert into event (id, permissions, time, status, experimenter, experimentergroup, "session", type)
    values (0, -35, now(), 'BOOTSTRAP', 0, 0, 0, 0);
insert into groupexperimentermap (id, permissions, version, parent, child, child_index, owner)
    values (0, -35, 0, 0, 0, 0, true);
insert into groupexperimentermap (id, permissions, version, parent, child, child_index, owner)
    select ome_nextval('seq_groupexperimentermap'), -35, 0, 1, 0, 1, false;
insert into groupexperimentermap (id, permissions, version, parent, child, child_index, owner)
    select ome_nextval('seq_groupexperimentermap'), -35, 0, 2, 1, 0, false;
insert into configuration values ('omero.db.uuid', gen_random_uuid()::text);
