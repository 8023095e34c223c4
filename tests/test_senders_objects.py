"""ObjectMailSender for any class OMERO logs in eventlog, on INSERT, UPDATE and DELETE.

Bean files in OMERO's Spring syntax, planned against a JSON directory as the rules stage
plans them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from events.schemas import new_event
from senders.directory import load_json_directory
from senders.plan import plan
from senders.rules import model_class, model_classes
from senders.xmlconfig import SenderConfigError, load_file

from .conftest import write_directory

PROPS = {"omero.mail.config": "true"}
SYSTEM_GROUP = "select g from ExperimenterGroup g where g.id = :systemGroupId"
ROOT_USER = "select e from Experimenter e where e.id = :rootUserId"
IMAGE_OWNER = ("select i.details.owner from ImageAnnotationLink l join l.parent as i join l.child as c "
               "where c.id = :id and c.details.owner.id != i.details.owner.id")


def beans(tmp_path: Path, *beans: str) -> Path:
    path = tmp_path / "objects.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<beans xmlns="http://www.springframework.org/schema/beans">\n'
        '  <bean id="abstractMailSender" abstract="true">\n'
        '    <property name="enabled" value="${omero.mail.config}"/>\n'
        '    <property name="queryService" ref="internal-ome.api.IQuery"/>\n'
        '  </bean>\n' + "\n".join(beans) + "\n</beans>\n")
    return path


def object_bean(id: str, object_class: str, action: str, query: str = SYSTEM_GROUP) -> str:
    return (f'  <bean id="{id}" parent="abstractMailSender" class="ome.services.mail.ObjectMailSender">\n'
            f'    <property name="action" value="{action}"/>\n'
            f'    <property name="objectClass" value="{object_class}"/>\n'
            f'    <property name="queryString" value="{query}"/>\n  </bean>')


def load_one(tmp_path: Path, object_class: str, action: str = "INSERT", query: str = SYSTEM_GROUP):
    [sender] = load_file(beans(tmp_path, object_bean("watch", object_class, action, query)), PROPS)
    return sender


def refusal(tmp_path: Path, object_class: str, action: str = "INSERT", query: str = SYSTEM_GROUP):
    with pytest.raises(SenderConfigError) as caught:
        load_one(tmp_path, object_class, action, query)
    assert caught.value.bean == "watch" and caught.value.line
    return caught.value


@pytest.fixture
def directory(tmp_path):
    return load_json_directory(write_directory(tmp_path / "directory.json", [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
        {"id": 2, "omeName": "alice", "email": "alice@example.org", "groups": ["system", "user"]},
        {"id": 4, "omeName": "carol", "email": "carol@example.org", "groups": ["user"]},
    ]))


def mails(sender, kind, data, directory):
    return sorted((m.to, m.subject, m.text) for m in plan(new_event(kind, data), [sender], directory,
                                                          "omero@example.org").mails)


@pytest.mark.parametrize("full", ["ome.model.core.Pixels", "ome.model.annotations.MapAnnotation",
                                  "ome.model.annotations.ImageAnnotationLink", "ome.model.roi.Ellipse",
                                  "ome.model.enums.Format", "ome.model.meta.EventLog"])
def test_any_class_omero_logs_can_be_watched(tmp_path, full):
    assert load_one(tmp_path, full).object_class == full


@pytest.mark.parametrize("short, full", [("Experimenter", "ome.model.meta.Experimenter"),
                                         ("MapAnnotation", "ome.model.annotations.MapAnnotation"),
                                         ("ShapeAnnotationLink", "ome.model.annotations.ShapeAnnotationLink")])
def test_a_short_name_maps_to_omeros_full_class_name(short, full):
    assert model_class(short) == full


def test_every_annotated_type_has_its_generated_annotation_link():
    assert {"ImageAnnotationLink", "ExperimenterAnnotationLink", "AnnotationAnnotationLink",
            "LightSourceAnnotationLink", "WellAnnotationLink"} <= set(model_classes())


@pytest.mark.parametrize("typo, suggestion", [("ome.model.core.Imag", "ome.model.core.Image"),
                                              ("MapAnotation", "MapAnnotation")])
def test_a_typo_in_the_class_is_refused_with_the_likely_class(tmp_path, typo, suggestion):
    error = refusal(tmp_path, typo)
    assert f"unknown objectClass {typo!r}" in error.reason and f"did you mean {suggestion}" in error.reason


@pytest.mark.parametrize("name", ["ome.model.core.Experimenter", "ome.model.annotations.Annotation",
                                  "ome.model.jobs.Job", "Spaceship"])
def test_a_class_omero_never_logs_is_refused(tmp_path, name):
    assert f"unknown objectClass {name!r}" in refusal(tmp_path, name).reason


def test_an_update_mails_the_query_recipients_with_omeros_update_texts(tmp_path, directory):
    sender = load_one(tmp_path, "ome.model.core.Image", "UPDATE")
    body = "Modified objects:\nclass ome.model.core.Image:7 - UPDATE\n"
    assert mails(sender, "object.updated", {"object_class": "ome.model.core.Image", "object_id": 7}, directory) == [
        ("alice@example.org", "[OMERO] UPDATE Image notification", body),
        ("root@example.org", "[OMERO] UPDATE Image notification", body)]


def test_a_delete_mails_the_query_recipients_with_omeros_delete_texts(tmp_path, directory):
    sender = load_one(tmp_path, "ome.model.annotations.MapAnnotation", "DELETE", ROOT_USER)
    data = {"object_class": "ome.model.annotations.MapAnnotation", "object_id": 12}
    assert mails(sender, "object.deleted", data, directory) == [
        ("root@example.org", "[OMERO] DELETE MapAnnotation notification",
         "Modified objects:\nclass ome.model.annotations.MapAnnotation:12 - DELETE\n")]


@pytest.mark.parametrize("action, kind", [("INSERT", "object.created"), ("UPDATE", "object.updated"),
                                          ("DELETE", "object.deleted")])
def test_each_action_answers_its_own_event(tmp_path, action, kind):
    assert load_one(tmp_path, "ome.model.core.Pixels", action).event_types == (kind,)


@pytest.mark.parametrize("kind", ["object.created", "object.deleted"])
def test_an_update_sender_ignores_the_other_actions(tmp_path, directory, kind):
    sender = load_one(tmp_path, "ome.model.core.Image", "UPDATE")
    assert mails(sender, kind, {"object_class": "ome.model.core.Image", "object_id": 7}, directory) == []


def test_an_update_sender_ignores_another_class(tmp_path, directory):
    sender = load_one(tmp_path, "ome.model.core.Image", "UPDATE")
    assert mails(sender, "object.updated", {"object_class": "ome.model.core.Pixels", "object_id": 7}, directory) == []


def test_a_comment_update_is_an_object_update_not_a_new_comment(tmp_path):
    assert load_one(tmp_path, "CommentAnnotation", "UPDATE").event_types == ("object.updated",)


def test_the_image_owner_query_is_refused_for_a_comment_delete(tmp_path):
    error = refusal(tmp_path, "ome.model.annotations.CommentAnnotation", "DELETE", IMAGE_OWNER)
    assert "only for CommentAnnotation, on INSERT" in error.reason


def test_a_query_omero_mail_cannot_run_is_refused_with_the_bean_and_reason(tmp_path):
    error = refusal(tmp_path, "ome.model.core.Image", "UPDATE", "select e from Experimenter e where e.id = :id")
    assert "sender 'watch'" in str(error) and "is not one omero-mail knows" in error.reason


def test_an_action_omero_does_not_have_is_refused(tmp_path):
    assert "unknown action 'MODIFY'" in refusal(tmp_path, "ome.model.core.Image", "MODIFY").reason
