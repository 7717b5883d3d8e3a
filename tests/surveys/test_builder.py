"""The staff survey builder: create, edit questions, translations, skip logic and triggers;
errors next to the fields; admins only; one workspace's surveys only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ascolto.surveys.models import Survey
from tests.surveys.factories import consenting_customer, make_survey, sent_invitation
from tests.ui.conftest import login


@pytest.fixture
def admin(client: Client, admin_user) -> Client:  # type: ignore[no-untyped-def]
    return login(client, admin_user)


def _create(admin: Client, **overrides: str) -> Survey:
    data = {
        "kind": "csat",
        "name": "Delivery CSAT",
        "title": "How did we do?",
        "touchpoint": "delivery",
        "default_language": "en",
        **overrides,
    }
    response = admin.post(reverse("surveys_staff:new"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Survey.objects.get(name=data["name"])


def _form(survey: Survey, rows: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "action": "save",
        "name": survey.name,
        "touchpoint": survey.touchpoint,
        "default_language": "en",
        "title": survey.title,
        "intro": "",
        "thanks": "Thank you",
        "tr-it-title": "Com'è andata?",
        "tr-he-title": "",
        "trigger": "conversation_resolved",
        "delay_minutes": "30",
        "trigger_channels": ["webchat", "email"],
        "relational_every_days": "90",
        "sampling_percent": "50",
        "expiry_days": "7",
        "suppression_days": "20",
        "qn": str(len(rows)),
        **fields,
    }
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"q-{index}-{name}"] = value
    return data


ROWS = [
    {
        "key": "score",
        "type": "csat",
        "display": "faces",
        "required": "on",
        "text": "How satisfied are you?",
        "tr-it-text": "Quanto sei soddisfatto?",
        "tr-he-text": "עד כמה אתם מרוצים?",
    },
    {
        "key": "what",
        "type": "single_choice",
        "text": "What went wrong?",
        "choices": "late | Late delivery\ndamaged | Damaged parcel",
        "tr-it-text": "Cosa è andato storto?",
        "tr-it-choices": "Consegna in ritardo\nPacco danneggiato",
        "if_question": "score",
        "if_op": "lte",
        "if_value": "2",
    },
    {"key": "why", "type": "text", "text": "Anything else?"},
]


def test_an_admin_builds_a_survey_and_answering_it_follows_the_skip_logic(admin, workspace):
    survey = _create(admin)
    assert not survey.is_active
    assert [q.key for q in survey.questions.all()] == ["score", "why"]

    response = admin.post(reverse("surveys_staff:edit", args=[survey.pk]), _form(survey, ROWS))
    assert response.status_code == 302, response.content.decode()[:3000]
    admin.post(reverse("surveys_staff:activate", args=[survey.pk]), {"active": "1"})

    survey.refresh_from_db()
    assert survey.is_active
    assert survey.trigger == "conversation_resolved"
    assert survey.delay_minutes == 30
    assert sorted(survey.trigger_channels) == ["email", "webchat"]
    assert survey.sampling_rate == 0.5
    assert survey.translations == {"it": {"title": "Com'è andata?"}}
    assert survey.workspace.survey_settings.suppression_days == 20
    questions = list(survey.questions.order_by("position"))
    assert [q.key for q in questions] == ["score", "what", "why"]
    assert questions[1].show_if == {"question": "score", "in": ["1", "2"]}
    assert questions[1].translations["it"]["choices"] == {
        "late": "Consegna in ritardo",
        "damaged": "Pacco danneggiato",
    }

    # A happy customer never sees "what went wrong"; an unhappy one does.
    Survey.objects.filter(pk=survey.pk).update(sampling_rate=1.0)  # everyone, for the test
    survey.refresh_from_db()
    for score, expected in ((5, "Anything else?"), (2, "What went wrong?")):
        customer = consenting_customer(workspace)
        _invitation, token = sent_invitation(survey, customer, source_key=f"t{score}")
        url = reverse("surveys:respond", args=[token])
        admin.post(url, {"q": "score", "score": str(score)})
        assert expected in admin.get(url).content.decode()

    # The editor shows the comparison back as typed.
    html = admin.get(reverse("surveys_staff:edit", args=[survey.pk])).content.decode()
    assert 'value="lte" selected' in html


def test_errors_show_next_to_the_fields_and_keep_the_input(admin, workspace):
    survey = _create(admin, kind="nps", name="NPS")
    rows = [dict(ROWS[0], type="nps", display="numbers"), dict(ROWS[2], key="score")]
    data = _form(survey, rows, title="", sampling_percent="lots")
    data["q-1-if_question"] = "nowhere"

    response = admin.post(reverse("surveys_staff:edit", args=[survey.pk]), data)
    html = response.content.decode()

    assert response.status_code == 422
    assert 'data-error="title"' in html
    assert 'data-error="sampling_rate"' in html
    assert "Used by another question." in html
    assert 'value="Anything else?"' in html  # what was typed is still there
    survey.refresh_from_db()
    assert survey.title == "How did we do?"  # nothing saved
    assert [q.key for q in survey.questions.all()] == ["score", "why"]


def test_skip_logic_must_point_at_an_earlier_question(admin, workspace):
    survey = _create(admin, name="Order")
    rows = [dict(ROWS[2], if_question="score", if_value="1"), ROWS[0]]

    response = admin.post(reverse("surveys_staff:edit", args=[survey.pk]), _form(survey, rows))

    assert response.status_code == 422
    assert 'data-error="q-0-show_if"' in response.content.decode()


def test_adding_and_moving_questions_does_not_save(admin, workspace):
    survey = _create(admin, name="Moves")
    url = reverse("surveys_staff:edit", args=[survey.pk])

    added = admin.post(url, _form(survey, ROWS[:1], action="add")).content.decode()
    moved = admin.post(url, _form(survey, ROWS[::2], action="down-0")).content.decode()

    assert 'name="q-1-key" value="q2"' in added
    assert moved.index('value="Anything else?"') < moved.index('value="How satisfied are you?"')
    assert [q.key for q in survey.questions.all()] == ["score", "why"]


def test_missing_translations_are_flagged(admin, workspace):
    survey = _create(admin, kind="custom", name="Custom")
    html = admin.get(reverse("surveys_staff:edit", args=[survey.pk])).content.decode()

    # The survey title has no Italian or Hebrew yet; the starter question has both.
    assert 'data-missing="it"' in html
    assert html.count('data-missing="he"') == 1


def test_the_preview_renders_each_language_right_to_left_in_hebrew(admin, workspace):
    survey = make_survey(workspace, "nps")
    url = reverse("surveys_staff:preview", args=[survey.pk])

    hebrew = admin.get(url, {"lang": "he"}).content.decode()
    italian = admin.get(url, {"lang": "it"}).content.decode()

    assert 'dir="rtl"' in hebrew
    assert "ספרו לנו איך היה" in hebrew
    assert "Dicci come è andata" in italian
    assert 'dir="ltr"' in italian


def test_an_agent_cannot_create_or_change_surveys(client, agent, workspace):
    staff = login(client, agent)
    survey = make_survey(workspace, "nps")

    assert staff.get(reverse("surveys_staff:new")).status_code == 403
    assert staff.post(reverse("surveys_staff:new"), {"kind": "nps"}).status_code == 403
    edit = reverse("surveys_staff:edit", args=[survey.pk])
    assert staff.post(edit, _form(survey, ROWS)).status_code == 403
    activate = reverse("surveys_staff:activate", args=[survey.pk])
    assert staff.post(activate, {"active": "0"}).status_code == 403
    survey.refresh_from_db()
    assert survey.is_active


def test_another_workspaces_survey_is_not_found(admin, other_workspace):
    theirs = make_survey(other_workspace, "nps")

    for name in ("edit", "preview"):
        assert admin.get(reverse(f"surveys_staff:{name}", args=[theirs.pk])).status_code == 404
    response = admin.post(reverse("surveys_staff:activate", args=[theirs.pk]), {"active": "0"})
    assert response.status_code == 404


def test_questions_are_fixed_once_answered_but_texts_still_change(admin, workspace):
    survey = _create(admin, name="Answered")
    Survey.objects.filter(pk=survey.pk).update(is_active=True)
    survey.refresh_from_db()
    invitation, _token = sent_invitation(survey, consenting_customer(workspace), source_key="a")
    from ascolto.surveys import services

    services.response_record(invitation=invitation, answers={"score": 4}, keys=["score"])

    response = admin.post(
        reverse("surveys_staff:edit", args=[survey.pk]), _form(survey, ROWS, title="New title")
    )

    assert response.status_code == 302
    survey.refresh_from_db()
    assert survey.title == "New title"
    assert [q.key for q in survey.questions.all()] == ["score", "why"]
