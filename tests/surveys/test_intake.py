"""The survey intake: answers stored at once by the public page, completed by the worker in
batches, exactly once, whatever dies in between (services/intake.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Activity
from ascolto.surveys import services, tasks
from ascolto.surveys.definitions import survey_questions
from ascolto.surveys.models import FollowUp, Invitation, Response, Submission
from ascolto.surveys.services import intake
from tests.surveys.factories import (
    consenting_customer,
    dispatch_pending,
    make_survey,
    sent_invitation,
)


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def nps(workspace):
    return make_survey(workspace, "nps")


def page(token, suffix=""):
    return f"/s/{token}/{suffix}"


def submitted(name="surveys.response.submitted"):
    return OutboxEvent.objects.filter(name=name).count()


def accept(invitation, answers):
    questions = survey_questions(invitation.survey)
    state = services.page_state(invitation=invitation, questions=questions)
    return services.submission_accept(
        invitation=invitation, questions=questions, state=state, answers=answers, keys=list(answers)
    )


def test_a_complete_answer_reaches_the_timeline_the_outbox_and_the_closed_loop(
    client, nps, workspace
):
    invitation, token = sent_invitation(nps, consenting_customer(workspace))

    client.get(page(token, "answer/3/"))
    client.post(page(token), {"q": "why", "why": "Nobody answered my emails."})
    assert not Response.objects.exists()  # stored, not yet completed

    assert services.intake_drain() == 2
    dispatch_pending()

    response = Response.objects.get()
    assert response.completed
    assert response.closed == "submitted"
    assert response.nps_score == 3
    assert response.comment == "Nobody answered my emails."
    assert response.submitted_at is not None
    activity = Activity.objects.get(kind="survey.response")
    assert activity.data["response_id"] == response.pk
    assert submitted() == 1
    assert FollowUp.objects.get().response == response  # the closed loop saw it
    invitation.refresh_from_db()
    assert invitation.answered_at is not None
    assert not Submission.objects.filter(processed_at__isnull=True).exists()


def test_the_same_form_sent_twice_is_stored_once(nps, workspace):
    invitation, _ = sent_invitation(nps, consenting_customer(workspace))
    questions = survey_questions(nps)
    state = services.page_state(invitation=invitation, questions=questions)

    first, second = (
        services.submission_accept(
            invitation=invitation,
            questions=questions,
            state=state,
            answers={"score": "9"},
            keys=["score"],
        )
        for _ in range(2)
    )

    assert (first.stored, second.stored) == (True, False)
    assert Submission.objects.count() == 1


def test_a_second_final_page_after_the_first_is_ignored_by_the_worker(nps, workspace):
    invitation, _ = sent_invitation(nps, consenting_customer(workspace))
    questions = survey_questions(nps)
    accept(invitation, {"score": "2"})
    state = services.page_state(invitation=invitation, questions=questions)
    # Two tabs showing the last page, sent with different words before the worker ran.
    for words in ("Rude.", "Very rude."):
        services.submission_accept(
            invitation=invitation,
            questions=questions,
            state=state,
            answers={"why": words},
            keys=["why"],
        )

    services.intake_drain()

    assert Response.objects.get().comment == "Rude."
    assert Activity.objects.filter(kind="survey.response").count() == 1
    assert submitted() == 1
    assert not Submission.objects.filter(processed_at__isnull=True).exists()


def test_a_worker_that_dies_mid_batch_leaves_the_answers_for_the_sweeper(
    nps, workspace, monkeypatch
):
    invitation, _ = sent_invitation(nps, consenting_customer(workspace))
    accept(invitation, {"score": "10", "why": "Great."})

    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(intake, "_mark_answered", die)
        with pytest.raises(SystemExit):
            services.intake_process()

    assert not Response.objects.exists()
    assert not Activity.objects.filter(kind="survey.response").exists()
    assert Submission.objects.get().processed_at is None

    assert tasks.sweep_intake.call_local() == 1
    assert tasks.sweep_intake.call_local() == 0

    assert Response.objects.get().completed
    assert Activity.objects.filter(kind="survey.response").count() == 1
    assert submitted() == 1


def test_a_failing_answer_is_retried_alone_and_does_not_hold_up_the_others(
    nps, workspace, monkeypatch
):
    broken, _ = sent_invitation(nps, consenting_customer(workspace))
    fine, _ = sent_invitation(nps, consenting_customer(workspace))
    accept(broken, {"score": "1", "why": ""})
    accept(fine, {"score": "9", "why": ""})
    real = intake._new_response

    def flaky(invitation, first):
        if invitation.pk == broken.pk:
            raise RuntimeError("disk full")
        return real(invitation, first)

    with monkeypatch.context() as patch:
        patch.setattr(intake, "_new_response", flaky)
        assert services.intake_process() == 1

    assert Response.objects.get().invitation_id == fine.pk
    row = Submission.objects.get(invitation=broken)
    assert row.processed_at is None
    assert row.attempts == 1
    assert "disk full" in row.last_error

    assert services.intake_drain() == 1
    assert Response.objects.filter(invitation=broken, completed=True).count() == 1
    assert submitted() == 2


def test_a_batch_costs_the_same_few_queries_whatever_its_size(workspace):
    surveys = [make_survey(workspace, "nps"), make_survey(workspace, "csat")]

    def batch_of(n):
        for i in range(n):
            invitation, _ = sent_invitation(surveys[i % 2], consenting_customer(workspace))
            first = survey_questions(invitation.survey)[0].key
            accept(invitation, {first: "4"})
            accept(invitation, {"why": f"Answer {i}"})
        with CaptureQueriesContext(connection) as queries:
            assert services.intake_process() == 2 * n
        return len(queries)

    small, large = batch_of(2), batch_of(20)

    assert large == small
    assert Response.objects.filter(completed=True).count() == 22
    assert Activity.objects.filter(kind="survey.response").count() == 22


def test_a_page_submit_is_a_few_reads_and_one_insert(client, nps, workspace):
    _, token = sent_invitation(nps, consenting_customer(workspace))
    client.get(page(token))  # the survey's questions are now cached in this process

    with CaptureQueriesContext(connection) as queries:
        client.post(page(token), {"q": "score", "score": "8"})

    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(writes) == 1
    assert "surveys_submission" in writes[0]
    assert len(queries) <= 4


def test_bad_submits_get_a_clear_4xx_and_store_nothing(client, nps, workspace):
    invitation, token = sent_invitation(nps, consenting_customer(workspace))
    other = make_survey(workspace, "csat")
    _, other_token = sent_invitation(other, consenting_customer(workspace))
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")

    oversized = client.post(page(token), {"q": "why", "why": "x" * 300_000})
    wrong_token = client.post(page(forged), {"q": "score", "score": "3"})
    foreign_key = client.post(page(other_token), {"q": "damage", "damage": "box"})
    off_scale = client.post(page(token), {"q": "score", "score": "11"})
    not_a_number = client.post(page(token), {"q": "score", "score": "1e9"})
    off_scale_click = client.get(page(token, "answer/12/"))
    long_text = client.post(page(token), {"q": ["score", "why"], "score": "3", "why": "z" * 6000})

    assert oversized.status_code == 413
    assert "too long" in oversized.content.decode()
    assert wrong_token.status_code == 404
    assert foreign_key.status_code == 400
    assert off_scale.status_code == not_a_number.status_code == 422
    assert off_scale_click.status_code == 400
    assert long_text.status_code == 422
    assert not Submission.objects.exists()
    services.intake_drain()
    assert not Response.objects.filter(invitation__survey=other).exists()
    assert Invitation.objects.get(pk=invitation.pk).answered_at is None


def test_questions_are_fixed_once_an_answer_is_waiting(nps, workspace):
    from ascolto.core.errors import Conflict
    from tests.surveys.factories import SYSTEM

    invitation, _ = sent_invitation(nps, consenting_customer(workspace))
    accept(invitation, {"score": "5"})

    with pytest.raises(Conflict):
        services.survey_set_questions(
            survey=nps,
            questions=[services.QuestionInput(key="other", type="nps", text="Other?")],
            actor=SYSTEM,
        )


def test_the_cached_survey_follows_its_changes(client, nps, workspace):
    from tests.surveys.factories import SYSTEM

    _, token = sent_invitation(nps, consenting_customer(workspace))
    before = client.get(page(token)).content.decode()

    services.survey_update(survey=nps, actor=SYSTEM, title="A brand new title")
    after = client.get(page(token)).content.decode()

    assert "Tell us how we did" in before
    assert "A brand new title" in after
    assert "Tell us how we did" not in after
