"""Races on PostgreSQL: a double submit arriving at once, and the same trigger delivered twice
at once, are each recorded once; two triggers for one customer pass suppression only once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, transaction

from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Activity
from ascolto.surveys import services
from ascolto.surveys.models import Invitation, Response
from tests.accounts.factories import WorkspaceFactory
from tests.surveys.factories import consenting_customer, make_survey, sent_invitation

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _only_on_postgres(settings: Any) -> None:
    if not settings.IS_POSTGRES:
        pytest.skip("row locks are what this checks; run with DATABASE_URL=postgres://...")


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread and transaction, released together."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result(timeout=30) for f in [pool.submit(run, c) for c in calls]]


def test_a_double_submit_at_the_same_moment_is_recorded_once():
    with transaction.atomic():
        workspace = WorkspaceFactory()
        survey = make_survey(workspace, "nps")
        invitation, _ = sent_invitation(survey, consenting_customer(workspace))
        services.response_record(invitation=invitation, answers={"score": "4"}, keys=["score"])

    def submit() -> services.RecordResult:
        return services.response_record(
            invitation=invitation, answers={"why": "late"}, keys=["why"]
        )

    results = at_once(submit, submit)

    assert sorted((r.completed_now, r.already_completed) for r in results) == [
        (False, True),
        (True, False),
    ]
    assert Response.objects.count() == 1
    assert Activity.objects.filter(kind="survey.response").count() == 1
    assert OutboxEvent.objects.filter(name="surveys.response.submitted").count() == 1


def test_the_same_trigger_delivered_twice_at_once_invites_once():
    with transaction.atomic():
        workspace = WorkspaceFactory()
        services.settings_for(workspace)
        survey = make_survey(workspace, "csat")
        customer = consenting_customer(workspace)

    def trigger() -> Invitation:
        return services.invitation_create(
            survey=survey, customer=customer, source_key="conversation:7"
        )

    first, second = at_once(trigger, trigger)

    assert first.pk == second.pk
    assert Invitation.objects.count() == 1


def test_two_triggers_for_one_customer_pass_suppression_once():
    with transaction.atomic():
        workspace = WorkspaceFactory()
        services.settings_for(workspace)
        nps, csat = make_survey(workspace, "nps"), make_survey(workspace, "csat")
        customer = consenting_customer(workspace)

    results = at_once(
        lambda: services.invitation_create(survey=nps, customer=customer, source_key="order:1"),
        lambda: services.invitation_create(
            survey=csat, customer=customer, source_key="conversation:2"
        ),
    )

    assert sorted(i.skip_reason for i in results) == ["", "suppressed"]


def test_the_same_page_posted_twice_at_once_is_stored_once() -> None:
    from ascolto.surveys.definitions import survey_questions
    from ascolto.surveys.models import Submission

    with transaction.atomic():
        workspace = WorkspaceFactory()
        survey = make_survey(workspace, "nps")
        invitation, _ = sent_invitation(survey, consenting_customer(workspace))
    questions = survey_questions(survey)

    def submit() -> services.Accepted:
        state = services.page_state(invitation=invitation, questions=questions)
        return services.submission_accept(
            invitation=invitation,
            questions=questions,
            state=state,
            answers={"score": "3", "why": "late"},
            keys=["score", "why"],
        )

    results = at_once(submit, submit)

    assert sorted(r.stored for r in results) == [False, True]
    assert Submission.objects.count() == 1


def test_two_workers_at_once_complete_every_answer_exactly_once(monkeypatch: Any) -> None:
    from ascolto.surveys.definitions import survey_questions
    from ascolto.surveys.services import intake

    # The after-commit wake-up would complete everything in this thread (Huey is immediate in
    # tests): leave the rows pending for the two workers below.
    monkeypatch.setattr(intake, "wake_worker", lambda: None)
    with transaction.atomic():
        workspace = WorkspaceFactory()
        survey = make_survey(workspace, "nps")
        questions = survey_questions(survey)
        for i in range(40):
            invitation, _ = sent_invitation(survey, consenting_customer(workspace))
            for page in ({"score": str(i % 11)}, {"why": f"answer {i}"}):
                state = services.page_state(invitation=invitation, questions=questions)
                services.submission_accept(
                    invitation=invitation,
                    questions=questions,
                    state=state,
                    answers=page,
                    keys=list(page),
                )

    barrier = threading.Barrier(2)

    def work() -> int:
        # Each batch is its own transaction, as in the worker (no outer transaction).
        try:
            barrier.wait(timeout=10)
            return services.intake_drain(batch=7)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = (f.result(timeout=60) for f in [pool.submit(work), pool.submit(work)])

    assert first + second == 80
    assert Response.objects.filter(completed=True).count() == 40
    assert Activity.objects.filter(kind="survey.response").count() == 40
    assert OutboxEvent.objects.filter(name="surveys.response.submitted").count() == 40
    assert sorted(Response.objects.values_list("comment", flat=True)) == sorted(
        f"answer {i}" for i in range(40)
    )
