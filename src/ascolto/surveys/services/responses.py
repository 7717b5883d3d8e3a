"""Recording answers: page by page (partial answers kept), once per invitation, edits by staff,
and closing answers left unfinished."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record, diff
from ascolto.core.errors import DomainError, ValidationFailed
from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Activity
from ascolto.customers.services import activities_record
from ascolto.surveys import questions as q
from ascolto.surveys.definitions import survey_questions
from ascolto.surveys.models import Invitation, Question, Response, Survey
from ascolto.surveys.services.invitations import invitation_answered

KIND_LABEL = {"nps": "NPS", "csat": "CSAT", "ces": "CES", "custom": "Survey"}


class LinkExpired(DomainError):
    status = 410
    code = "expired"


@dataclass
class RecordResult:
    response: Response | None
    completed_now: bool = False
    already_completed: bool = False
    next_questions: list[Question] = field(default_factory=list)


def _questions(invitation: Invitation) -> list[Question]:
    return survey_questions(invitation.survey)


def _apply(
    questions: Sequence[Question],
    existing: Mapping[str, Any],
    raw: Mapping[str, Any],
    keys: Sequence[str],
) -> dict[str, Any]:
    """`existing` answers with those of `keys` replaced by the cleaned `raw` values.

    Raises ValidationFailed naming each question key whose answer does not fit. Answers to
    questions that skip logic now hides (an earlier answer changed) are dropped.
    """
    by_key = {question.key: question for question in questions}
    merged = dict(existing)
    errors: dict[str, list[str]] = {}
    for key in keys:
        question = by_key.get(key)
        if question is None:
            errors[key] = [_("This question is not part of the survey.")]
            continue
        try:
            merged[key] = q.clean_answer(question, raw.get(key))
        except q.AnswerError as exc:
            errors[key] = [str(exc)]
    for question in questions:
        if question.key in keys and not q.is_visible(question, merged):
            errors.setdefault(question.key, [_("This question is not part of the survey.")])
    if errors:
        raise ValidationFailed(_("Some answers need a second look."), field_errors=errors)
    for question in questions:
        if question.key in merged and not q.is_visible(question, merged):
            del merged[question.key]
    return merged


def _fill(response: Response, questions: Sequence[Question], answers: dict[str, Any]) -> None:
    response.answers = answers
    found = q.scores(questions, answers)
    response.nps_score = found["nps"]
    response.csat_score = found["csat"]
    response.ces_score = found["ces"]
    response.comment = q.comment_of(questions, answers)


def response_scores(response: Response) -> dict[str, int]:
    return {
        k: v
        for k, v in (
            ("nps", response.nps_score),
            ("csat", response.csat_score),
            ("ces", response.ces_score),
        )
        if v is not None
    }


def completion_records(response: Response, *, survey: Survey) -> tuple[Activity, OutboxEvent]:
    """The unsaved timeline entry and "surveys.response.submitted" event of a response just
    completed (saved, with its pk): what the rest of the product is told, once per response."""
    scores = response_scores(response)
    headline = ", ".join(f"{KIND_LABEL[k]} {v}" for k, v in scores.items())
    when = response.submitted_at or timezone.now()
    activity = Activity(
        workspace_id=response.workspace_id,
        customer_id=response.customer_id,
        kind=Activity.Kind.SURVEY_RESPONSE,
        title=f"Survey answered: {survey.name}" + (f" ({headline})" if headline else ""),
        body=response.comment[:1000],
        data={
            "response_id": response.pk,
            "survey_id": survey.pk,
            "scores": scores,
            "touchpoint": response.touchpoint,
        },
        occurred_at=when,
        source_type="survey_response",
        source_id=str(response.pk),
    )
    event = OutboxEvent(
        workspace_id=survey.workspace_id,
        name="surveys.response.submitted",
        payload={
            "response_id": response.pk,
            "survey_id": survey.pk,
            "customer_id": response.customer_id,
            "invitation_id": response.invitation_id,
            "closed": response.closed,
            **{f"{k}_score": v for k, v in scores.items()},
        },
    )
    return activity, event


def _complete(response: Response, *, closed: str, when: dt.datetime) -> None:
    """Mark completed and tell the rest of the product: timeline entry and outbox event."""
    response.completed = True
    response.closed = closed
    response.submitted_at = when
    response.save()
    activity, event = completion_records(response, survey=response.survey)
    activities_record(activities=[activity])
    outbox.emit_many(events=[event])


def response_record(
    *,
    invitation: Invitation,
    answers: Mapping[str, Any],
    keys: Sequence[str],
    language: str = "",
    now: dt.datetime | None = None,
) -> RecordResult:
    """Record the answers to the questions `keys` (one page, or the one-click score).

    A blank answer is stored as None ("seen, left blank"). The response is created on the first
    answer and completed when no visible question is left, which writes the timeline entry and
    the "surveys.response.submitted" event exactly once. Locks the invitation row, so a double
    submit waits for the first and then finds it completed: recorded once, reported as
    `already_completed`. Raises LinkExpired past the invitation's expiry and ValidationFailed
    (keyed by question) for answers that do not fit; nothing is written then.
    """
    moment = now or timezone.now()
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("survey", "survey__workspace", "customer")
        .get(pk=invitation.pk)
    )
    response = Response.objects.filter(invitation=invitation).first()
    if response is not None and response.completed:
        return RecordResult(response, already_completed=True)
    if invitation.expires_at is not None and invitation.expires_at <= moment:
        raise LinkExpired(_("This survey link has expired."))
    questions = _questions(invitation)
    merged = _apply(questions, response.answers if response else {}, answers, keys)
    survey = invitation.survey
    if response is None:
        response = Response(
            workspace_id=invitation.workspace_id,
            survey=survey,
            invitation=invitation,
            customer=invitation.customer,
            language=language or invitation.language,
            touchpoint=survey.touchpoint,
            channel=invitation.context_channel or invitation.channel,
            segment=invitation.customer.value_tier,
            agent_id=invitation.agent_id,
            team_id=invitation.team_id,
            created_at=moment,
        )
    elif language:
        response.language = language
    _fill(response, questions, merged)
    remaining = q.next_page(questions, merged)
    invitation_answered(invitation=invitation, now=moment)
    if remaining:
        response.save()
        return RecordResult(response, next_questions=remaining)
    response.survey = survey
    _complete(response, closed=Response.Closed.SUBMITTED, when=moment)
    return RecordResult(response, completed_now=True)


def response_edit(*, response: Response, answers: Mapping[str, Any], actor: Actor) -> Response:
    """A staff member corrects answers (e.g. given over the phone). Audited with the change;
    emits "surveys.response.updated". Skip logic and validation apply as for the customer."""
    invitation = response.invitation
    questions = _questions(invitation)
    before = dict(response.answers)
    merged = _apply(questions, before, answers, list(answers))
    _fill(response, questions, merged)
    response.save()
    changes = diff(before, merged)
    if changes:
        audit_record(
            workspace=response.survey.workspace,
            actor=actor,
            action="survey.response.edit",
            object_type="survey_response",
            object_id=response.pk,
            customer_id=response.customer_id,
            changes=changes,
        )
        outbox.emit(
            workspace=response.survey.workspace,
            name="surveys.response.updated",
            payload={
                "response_id": response.pk,
                "survey_id": response.survey_id,
                "fields": sorted(changes),
            },
        )
    return response


def stale_response_ids(
    *, now: dt.datetime | None = None, minutes: int = 60, limit: int = 500
) -> list[int]:
    """Unfinished responses nobody touched for `minutes`, oldest first."""
    moment = now or timezone.now()
    return list(
        Response.objects.filter(
            completed=False, updated_at__lte=moment - dt.timedelta(minutes=minutes)
        )
        .order_by("updated_at")
        .values_list("id", flat=True)[:limit]
    )


def response_close_stale(*, response_id: int) -> bool:
    """Complete an answer left unfinished: its scores count, the closed loop sees it, and the
    link then says thank you. Its time is the last answer's. Returns whether it was closed
    (False when the customer finished it meanwhile)."""
    response = (
        Response.objects.select_for_update()
        .select_related("survey", "survey__workspace", "customer")
        .filter(pk=response_id, completed=False)
        .first()
    )
    if response is None:
        return False
    _complete(response, closed=Response.Closed.TIMED_OUT, when=response.updated_at)
    return True
