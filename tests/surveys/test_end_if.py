"""Skip logic "end the survey after this answer if ...": built in the builder, stored as
`end_if`, and followed by the response flow (the page, the one-click answer, the service)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse

from ascolto.surveys import services
from ascolto.surveys.models import Question, Response, Survey
from tests.surveys.factories import SYSTEM, consenting_customer, make_survey, sent_invitation
from tests.surveys.test_builder import ROWS
from tests.surveys.test_builder import _create as create
from tests.surveys.test_builder import _form as form
from tests.ui.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def nps(workspace: Any) -> Survey:
    """NPS "score" then "why"; promoters (9-10) are done after the score."""
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    survey = make_survey(workspace, "nps")
    Question.objects.filter(survey=survey, key="score").update(end_if={"in": ["9", "10"]})
    return survey


def test_a_promoter_is_done_after_the_score_and_a_detractor_is_asked_why(workspace, nps):
    promoter, _ = sent_invitation(nps, consenting_customer(workspace), source_key="promoter")
    detractor, _ = sent_invitation(nps, consenting_customer(workspace), source_key="detractor")

    with transaction.atomic():
        done = services.response_record(invitation=promoter, answers={"score": 10}, keys=["score"])
        asked = services.response_record(invitation=detractor, answers={"score": 3}, keys=["score"])

    assert done.completed_now
    assert done.response is not None
    assert done.response.nps_score == 10
    assert not asked.completed_now
    assert [q.key for q in asked.next_questions] == ["why"]


def test_the_one_click_answer_of_a_promoter_ends_the_survey(client, workspace, nps):
    _invitation, token = sent_invitation(nps, consenting_customer(workspace), source_key="one")
    _other, other_token = sent_invitation(nps, consenting_customer(workspace), source_key="two")

    ended = client.get(reverse("surveys:answer", args=[token, 9]), follow=True)
    continued = client.get(reverse("surveys:answer", args=[other_token, 8]), follow=True)
    services.intake_drain()

    assert "Thanks for telling us." in ended.content.decode()
    assert Response.objects.get(invitation__source_key="one").completed
    assert not Response.objects.get(invitation__source_key="two").completed
    assert 'name="why"' in continued.content.decode()


def test_the_question_with_the_end_rule_is_alone_on_its_page(workspace, nps):
    questions = list(nps.questions.order_by("position"))
    from ascolto.surveys.questions import next_page

    assert [q.key for q in next_page(questions, {})] == ["score"]
    assert [q.key for q in next_page(questions, {"score": 10})] == []
    assert [q.key for q in next_page(questions, {"score": 2})] == ["why"]


def test_the_builder_saves_and_shows_the_end_rule(client, admin_user, workspace):
    admin = login(client, admin_user)
    survey = create(admin)
    rows = [dict(ROWS[0], end_op="gte", end_value="4"), ROWS[2]]

    saved = admin.post(reverse("surveys_staff:edit", args=[survey.pk]), form(survey, rows))

    assert saved.status_code == 302, saved.content.decode()[:2000]
    score = survey.questions.get(key="score")
    assert score.end_if == {"in": ["4", "5"]}
    html = admin.get(reverse("surveys_staff:edit", args=[survey.pk])).content.decode()
    assert 'name="q-0-end_value" value="4"' in html


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (dict(ROWS[2], end_value="fine"), "A free-text answer cannot end the survey."),
        (dict(ROWS[0], end_op="gte", end_value="many"), "A whole number."),
    ],
)
def test_an_end_rule_that_cannot_work_is_refused_and_nothing_is_saved(
    client, admin_user, workspace, row, message
):
    admin = login(client, admin_user)
    survey = create(admin)
    rows = [row] if row["key"] == "score" else [ROWS[0], row]

    refused = admin.post(reverse("surveys_staff:edit", args=[survey.pk]), form(survey, rows))

    assert refused.status_code == 422
    assert message in refused.content.decode()
    assert all(not q.end_if for q in survey.questions.all())


def test_the_api_takes_and_returns_the_end_rule(member, workspace):
    admin_api = member("admin")
    survey = make_survey(workspace, "nps")
    payload = {
        "questions": [
            {"key": "score", "type": "nps", "text": "Recommend us?", "end_if": {"in": [9, 10]}},
            {"key": "why", "type": "text", "text": "Why?"},
        ]
    }

    saved = admin_api.put(f"surveys/{survey.pk}/questions", payload)
    refused = admin_api.put(
        f"surveys/{survey.pk}/questions",
        {"questions": [{"key": "why", "type": "text", "text": "Why?", "end_if": {"in": ["x"]}}]},
    )

    assert saved.status_code == 200, saved.content
    assert Question.objects.get(survey=survey, key="score").end_if == {"in": [9, 10]}
    assert saved.json()["questions"][0]["end_if"] == {"in": [9, 10]}
    assert refused.status_code == 422
    assert Question.objects.get(survey=survey, key="score").end_if == {"in": [9, 10]}
