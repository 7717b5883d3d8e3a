"""Recording answers: partial saves, completion once, timeline and outbox, edits, stale ones."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.core.models import AuditLogEntry, OutboxEvent
from ascolto.customers.models import Activity
from ascolto.surveys import services
from ascolto.surveys.models import Invitation, Response
from ascolto.surveys.services import QuestionInput
from tests.surveys.factories import SYSTEM, consenting_customer, make_survey, sent_invitation


@pytest.fixture
def invitation(workspace):
    survey = make_survey(workspace, "nps")
    return sent_invitation(survey, consenting_customer(workspace, name="Ada"))[0]


def record(invitation, answers, **kw):
    return services.response_record(
        invitation=invitation, answers=answers, keys=list(answers), **kw
    )


def test_a_partial_answer_is_saved_and_the_rest_asked_next(invitation):
    result = record(invitation, {"score": "9"})

    assert not result.completed_now
    assert [q.key for q in result.next_questions] == ["why"]
    response = Response.objects.get(invitation=invitation)
    assert response.answers == {"score": 9}
    assert response.nps_score == 9
    assert not response.completed
    assert response.submitted_at is None
    invitation.refresh_from_db()
    assert invitation.answered_at is not None
    assert not OutboxEvent.objects.filter(name="surveys.response.submitted").exists()


def test_finishing_completes_once_with_timeline_entry_and_event(invitation):
    record(invitation, {"score": "3"})
    done = record(invitation, {"why": "Two weeks to refund me."})
    twice = record(invitation, {"why": "changed my mind"})

    assert done.completed_now
    assert twice.already_completed
    response = Response.objects.get(invitation=invitation)
    assert response.completed
    assert response.closed == "submitted"
    assert response.comment == "Two weeks to refund me."
    assert response.touchpoint == "support"
    assert response.language == "en"
    (activity,) = Activity.objects.filter(customer=invitation.customer, kind="survey.response")
    assert "NPS 3" in activity.title
    assert activity.data["response_id"] == response.pk
    (event,) = OutboxEvent.objects.filter(name="surveys.response.submitted")
    assert event.payload["nps_score"] == 3
    assert event.payload["response_id"] == response.pk


def test_a_blank_optional_answer_counts_as_seen(invitation):
    record(invitation, {"score": "10"})
    result = record(invitation, {"why": ""})

    assert result.completed_now
    assert Response.objects.get(invitation=invitation).answers == {"score": 10, "why": None}


def test_bad_answers_write_nothing(invitation):
    with pytest.raises(ValidationFailed) as caught:
        record(invitation, {"score": "11"})

    assert set(caught.value.field_errors) == {"score"}
    assert not Response.objects.filter(invitation=invitation).exists()
    with pytest.raises(ValidationFailed):
        services.response_record(invitation=invitation, answers={}, keys=["nope"])


def test_required_questions_cannot_be_left_blank(invitation):
    with pytest.raises(ValidationFailed) as caught:
        record(invitation, {"score": ""})

    assert "score" in caught.value.field_errors


def test_expired_links_take_no_answers(invitation):
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    invitation.refresh_from_db()

    with pytest.raises(services.LinkExpired):
        record(invitation, {"score": "5"})


def test_changing_an_answer_drops_answers_skip_logic_now_hides(workspace):
    survey = make_survey(
        workspace,
        "custom",
        questions=[
            QuestionInput(
                key="ok",
                type="single_choice",
                text="All good?",
                required=True,
                choices=[{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}],
            ),
            QuestionInput(
                key="what",
                type="text",
                text="What went wrong?",
                show_if={"question": "ok", "in": ["no"]},
            ),
            QuestionInput(key="stars", type="rating", text="Stars?", scale_min=1, scale_max=5),
        ],
    )
    invitation, _ = sent_invitation(survey, consenting_customer(workspace))

    record(invitation, {"ok": "no"})
    record(invitation, {"what": "late"})
    record(invitation, {"ok": "yes"})

    response = Response.objects.get(invitation=invitation)
    assert response.answers == {"ok": "yes"}
    assert not response.completed


def test_staff_edits_are_audited_and_rescored(invitation, actor):
    record(invitation, {"score": "4"})
    record(invitation, {"why": "slow"})
    response = Response.objects.get(invitation=invitation)

    services.response_edit(response=response, answers={"score": 8}, actor=actor)

    response.refresh_from_db()
    assert response.nps_score == 8
    assert response.answers["why"] == "slow"
    entry = AuditLogEntry.objects.get(action="survey.response.edit")
    assert entry.changes == {"score": [4, 8]}
    assert entry.actor_user == actor.user
    assert OutboxEvent.objects.filter(name="surveys.response.updated").count() == 1


def test_unfinished_answers_are_closed_after_a_while(invitation):
    record(invitation, {"score": "6"})
    response = Response.objects.get(invitation=invitation)
    later = timezone.now() + dt.timedelta(minutes=61)

    assert services.stale_response_ids(now=timezone.now(), minutes=60) == []
    ids = services.stale_response_ids(now=later, minutes=60)
    assert ids == [response.pk]
    assert services.response_close_stale(response_id=response.pk)
    assert not services.response_close_stale(response_id=response.pk)

    response.refresh_from_db()
    assert response.completed
    assert response.closed == "timed_out"
    assert OutboxEvent.objects.filter(name="surveys.response.submitted").count() == 1


def test_surveys_with_answers_keep_their_questions(invitation):
    record(invitation, {"score": "7"})

    with pytest.raises(Conflict):
        services.survey_set_questions(
            survey=invitation.survey,
            actor=SYSTEM,
            questions=[QuestionInput(key="x", type="text", text="?")],
        )
