"""Survey intake: the fast write path of the public survey pages.

A page submit (or a one-click score) is validated against the survey's cached questions and
appended to the Submission table in one statement, and the customer gets the next page or the
thank-you page at once, computed from the submitted answers. The intake worker then completes
pending submissions in batches (`intake_process`): responses, timeline entries and outbox
events are written with bulk statements in the transaction that marks the rows processed, so a
worker that dies mid-batch leaves the rows pending and the next run (after commit, or the
periodic sweeper) completes them exactly once. See docs/decisions/0010-survey-intake.md.

What the customer sees is the processed Response with the pending submissions applied on top
(`page_state`): a pending submission counts as answered, so a used link says so before the
worker has run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from ascolto.core import outbox
from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Activity
from ascolto.customers.services import activities_record
from ascolto.surveys import questions as q
from ascolto.surveys.definitions import survey_questions
from ascolto.surveys.models import Invitation, Question, Response, Submission
from ascolto.surveys.services.responses import _apply, _fill, completion_records

logger = logging.getLogger(__name__)

BATCH = 500
MAX_ATTEMPTS = 5
KICK_KEY = "surveys:intake:kick"
KEEP_PROCESSED = dt.timedelta(days=7)
# One statement on both databases (SQLite >= 3.35 and PostgreSQL): a double submit hits the
# unique (invitation, key) and returns no row, so the caller knows it was a copy. The fast submit
# path (surveys/fastintake.py) inserts many rows at once with the same statement.
INSERT_COLUMNS = (
    'surveys_submission (workspace_id, invitation_id, "key", answers, language, completes,'
    " received_at, attempts, last_error)"
)
INSERT_ROW = "(%s, %s, %s, %s, %s, %s, %s, 0, '')"
INSERT_CONFLICT = ' ON CONFLICT (invitation_id, "key") DO NOTHING RETURNING invitation_id, "key"'


def insert_sql(rows: int) -> str:
    """The INSERT of `rows` prepared submissions (`PreparedSubmission.params`, one after the
    other); it returns (invitation id, key) of each row stored, none for a copy. Only
    placeholders are joined in; the values go through parameters."""
    values = ", ".join([INSERT_ROW] * rows)
    return f"INSERT INTO {INSERT_COLUMNS} VALUES {values}{INSERT_CONFLICT}"  # noqa: S608


INSERT_SQL = insert_sql(1)
# The same INSERT on PostgreSQL with the rows given as one JSON document (`insert_document`):
# one statement text whatever the number of rows, so it is parsed and planned once per
# connection, and the rows serialised by json.dumps (psycopg would quote array literals' texts
# element by element in Python).
INSERT_DOCUMENT_SQL = (
    f"INSERT INTO {INSERT_COLUMNS} SELECT w, i, k, a, l, c, r, 0, '' "  # noqa: S608
    "FROM json_to_recordset(%s::json) "
    f"AS t(w bigint, i bigint, k text, a jsonb, l text, c boolean, r timestamptz){INSERT_CONFLICT}"
)


@dataclass
class PageState:
    """An invitation's answers as the customer last left them: the Response as processed, with
    the pending submissions applied in order."""

    answers: dict[str, Any]
    completed: bool
    submissions: int = 0


@dataclass
class Accepted:
    completes: bool
    stored: bool
    next_questions: list[Question] = field(default_factory=list)


@dataclass(frozen=True)
class PreparedSubmission:
    """A validated page of answers, ready to be appended to the Submission table."""

    workspace_id: int
    invitation_id: int
    key: str
    page: dict[str, Any]
    language: str
    completes: bool
    received_at: dt.datetime
    next_questions: list[Question]

    def params(self, *, answers: Any, received_at: Any) -> list[Any]:
        """The values of INSERT_ROW, given the answers and time adapted for the database."""
        return [
            self.workspace_id,
            self.invitation_id,
            self.key,
            answers,
            self.language,
            self.completes,
            received_at,
        ]


def _merge(
    questions: Sequence[Question], answers: Mapping[str, Any], page: Mapping[str, Any]
) -> dict[str, Any]:
    """`answers` with an already validated `page` applied, dropping answers that skip logic
    now hides (as `responses._apply` does)."""
    merged = {**answers, **page}
    for question in questions:
        if question.key in merged and not q.is_visible(question, merged):
            del merged[question.key]
    return merged


STATE_SQL = (
    "SELECT 0, answers, completed, NULL FROM surveys_response WHERE invitation_id = %s"
    " UNION ALL SELECT id, answers, completes, processed_at FROM surveys_submission"
    " WHERE invitation_id = %s ORDER BY 1"
)


STATE_MANY_SQL = (
    "SELECT invitation_id, 0, answers, completed, NULL FROM surveys_response"
    " WHERE invitation_id IN ({marks}) UNION ALL SELECT invitation_id, id, answers,"
    " completes, processed_at FROM surveys_submission WHERE invitation_id IN ({marks})"
    " ORDER BY 1, 2"
)


def state_many_sql(invitations: int) -> str:
    """STATE_SQL for several invitations at once (each row led by its invitation id, in the
    order `state_from_rows` expects per invitation); the invitation ids are given twice."""
    marks = ", ".join(["%s"] * invitations)
    # Only placeholders are joined in; the ids go through parameters.
    return STATE_MANY_SQL.format(marks=marks)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def page_state(*, invitation: Invitation, questions: Sequence[Question]) -> PageState:
    """One indexed read (the invitation's Response and its submissions, as plain SQL: this
    runs on every page view and submit, and the ORM's query building cost more than the
    query)."""
    with connection.cursor() as cursor:
        cursor.execute(STATE_SQL, [invitation.pk, invitation.pk])
        rows = cursor.fetchall()
    return state_from_rows(rows, questions)


def state_from_rows(rows: Sequence[Sequence[Any]], questions: Sequence[Question]) -> PageState:
    """The PageState of one invitation from its STATE_SQL rows (id, answers, completed or
    completes, processed_at), in that query's order: the Response first (id 0), then the
    submissions oldest first."""
    answers: dict[str, Any] = {}
    completed = False
    submissions = 0
    for row_id, page, done, processed_at in rows:
        if row_id == 0:  # the Response
            answers, completed = dict(_json(page)), bool(done)
            continue
        submissions += 1
        if processed_at is None and not completed:
            answers = _merge(questions, answers, _json(page))
            completed = bool(done)
    return PageState(answers, completed, submissions)


def submission_key(*, state: PageState, page: Mapping[str, Any]) -> str:
    """The same form sent twice (both seeing the same state) gets the same key; a later change
    (a second click with another score) a new one, applied after the first."""
    digest = hashlib.sha256(json.dumps(page, sort_keys=True, default=str).encode()).hexdigest()
    return f"{state.submissions}:{digest[:48]}"


def insert_document(rows: Sequence[PreparedSubmission]) -> str:
    """The parameter of INSERT_DOCUMENT_SQL: the rows as one JSON array."""
    return json.dumps(
        [
            {
                "w": row.workspace_id,
                "i": row.invitation_id,
                "k": row.key,
                "a": row.page,
                "l": row.language,
                "c": row.completes,
                "r": row.received_at.isoformat(),
            }
            for row in rows
        ]
    )


def submission_prepare(
    *,
    workspace_id: int,
    invitation_id: int,
    questions: Sequence[Question],
    state: PageState,
    answers: Mapping[str, Any],
    keys: Sequence[str],
    language: str = "",
    now: dt.datetime | None = None,
) -> PreparedSubmission:
    """Validate the answers to the questions `keys` against the answers so far (`state`).

    Raises ValidationFailed (keyed by question) for answers that do not fit. Pure: reads and
    writes nothing.
    """
    merged = _apply(questions, state.answers, answers, keys)
    page = {key: merged.get(key) for key in keys}
    remaining = q.next_page(questions, merged)
    return PreparedSubmission(
        workspace_id=workspace_id,
        invitation_id=invitation_id,
        key=submission_key(state=state, page=page),
        page=page,
        language=language,
        completes=not remaining,
        received_at=now or timezone.now(),
        next_questions=remaining,
    )


def submission_accept(
    *,
    invitation: Invitation,
    questions: Sequence[Question],
    state: PageState,
    answers: Mapping[str, Any],
    keys: Sequence[str],
    language: str = "",
    now: dt.datetime | None = None,
) -> Accepted:
    """Validate the answers to the questions `keys` and append them for the intake worker.

    Preconditions: the caller checked the link (token, not expired) and that `state` is not
    completed. Raises ValidationFailed (keyed by question) for answers that do not fit; nothing
    is written then. One INSERT, ignoring a conflict on (invitation, key): a double submit is
    stored once (`stored` False for the copy). The worker is woken after commit.
    """
    prepared = submission_prepare(
        workspace_id=invitation.workspace_id,
        invitation_id=invitation.pk,
        questions=questions,
        state=state,
        answers=answers,
        keys=keys,
        language=language,
        now=now,
    )
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_SQL,
            prepared.params(
                answers=ops.adapt_json_value(prepared.page, None),
                received_at=ops.adapt_datetimefield_value(prepared.received_at),
            ),
        )
        stored = cursor.fetchone() is not None
    if stored:
        transaction.on_commit(wake_worker)
    return Accepted(
        completes=prepared.completes, stored=stored, next_questions=prepared.next_questions
    )


def wake_worker() -> None:
    """Enqueue the intake job unless one was enqueued in the last second (`intake_drain` reads
    again after clearing the mark, so no submission waits for the sweeper because of it)."""
    try:
        if not cache.add(KICK_KEY, 1, timeout=1):
            return
        from ascolto.surveys.tasks import process_intake

        process_intake()
    except Exception:
        # The answer is stored: the periodic sweeper completes it if the queue is down.
        logger.exception("Could not enqueue the survey intake job; the sweeper will run it")


# --- The worker ------------------------------------------------------------------------------


def intake_drain(*, batch: int = BATCH, max_batches: int = 1000) -> int:
    """Process pending submissions until none is left. Returns how many were processed."""
    total = 0
    for _ in range(max_batches):
        done = intake_process(limit=batch)
        total += done
        if done:
            continue
        cache.delete(KICK_KEY)
        done = intake_process(limit=batch)
        total += done
        if not done:
            break
    return total


def pending_count() -> int:
    return Submission.objects.filter(processed_at__isnull=True, attempts__lt=MAX_ATTEMPTS).count()


def intake_process(*, limit: int = BATCH, now: dt.datetime | None = None) -> int:
    """Complete up to `limit` pending submissions, oldest first, in one transaction.

    Claims the rows with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (concurrent workers
    take different rows; on SQLite the IMMEDIATE transaction serialises writers), locks their
    invitations, writes responses, timeline entries and outbox events in bulk and marks the
    rows processed in the same transaction. An invitation whose earlier submission another
    worker holds is left for the next run, so pages apply in order. When the batch fails, each
    invitation is retried alone; one that still fails counts an attempt (given up after
    MAX_ATTEMPTS, kept with its error). Returns how many rows were processed.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Submission.objects.select_for_update(skip_locked=settings.IS_POSTGRES)
            .filter(processed_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
            .order_by("pk")[:limit]
        )
        if not rows:
            return 0
        by_invitation: dict[int, list[Submission]] = {}
        for row in rows:
            by_invitation.setdefault(row.invitation_id, []).append(row)
        held_elsewhere = set(
            Submission.objects.filter(
                invitation_id__in=list(by_invitation),
                processed_at__isnull=True,
                attempts__lt=MAX_ATTEMPTS,
                pk__lt=max(row.pk for row in rows),
            )
            .exclude(pk__in=[row.pk for row in rows])
            .values_list("invitation_id", flat=True)
        )
        for invitation_id in held_elsewhere:
            del by_invitation[invitation_id]
        if not by_invitation:
            return 0
        try:
            with transaction.atomic():
                return _complete_batch(by_invitation, moment)
        except Exception:
            logger.exception("Survey intake batch failed; retrying its invitations one by one")
        processed = 0
        for invitation_id, group in by_invitation.items():
            try:
                with transaction.atomic():
                    processed += _complete_batch({invitation_id: group}, moment)
            except Exception as exc:
                logger.exception("Survey intake of invitation %s failed", invitation_id)
                Submission.objects.filter(pk__in=[row.pk for row in group]).update(
                    attempts=F("attempts") + 1, last_error=repr(exc)[:2000]
                )
        return processed


def _complete_batch(by_invitation: dict[int, list[Submission]], moment: dt.datetime) -> int:
    invitations = {
        invitation.pk: invitation
        for invitation in Invitation.objects.select_for_update(of=("self",))
        .select_related("survey", "customer")
        .filter(pk__in=list(by_invitation))
        .order_by("pk")
    }
    responses = {
        response.invitation_id: response
        for response in Response.objects.filter(invitation_id__in=list(invitations))
    }
    created: list[Response] = []
    changed: list[Response] = []
    completed: list[Response] = []
    first_answer: dict[int, dt.datetime] = {}
    for invitation_id, group in by_invitation.items():
        invitation = invitations.get(invitation_id)
        if invitation is None:  # deleted meanwhile: its submissions went with it
            continue
        response = responses.get(invitation_id)
        if response is not None and response.completed:
            continue  # answered already (a double submit): recorded once
        questions = survey_questions(invitation.survey)
        if response is None:
            response = _new_response(invitation, group[0])
            created.append(response)
        else:
            changed.append(response)
        if invitation.answered_at is None:
            first_answer[invitation_id] = group[0].received_at
        merged = dict(response.answers)
        for row in group:
            merged = _merge(questions, merged, row.answers)
            if row.language:
                response.language = row.language
            if row.completes or not q.next_page(questions, merged):
                response.completed = True
                response.closed = Response.Closed.SUBMITTED
                response.submitted_at = row.received_at
                break
        _fill(response, questions, merged)
        response.updated_at = moment
        if response.completed:
            completed.append(response)
    if created:
        Response.objects.bulk_create(created)
    if changed:
        Response.objects.bulk_update(
            changed,
            [
                "answers",
                "completed",
                "closed",
                "submitted_at",
                "language",
                "nps_score",
                "csat_score",
                "ces_score",
                "comment",
                "updated_at",
            ],
        )
    if completed:
        activities: list[Activity] = []
        events: list[OutboxEvent] = []
        for response in completed:
            activity, event = completion_records(
                response, survey=invitations[response.invitation_id].survey
            )
            activities.append(activity)
            events.append(event)
        activities_record(activities=activities)
        outbox.emit_many(events=events)
    if first_answer:
        _mark_answered(first_answer)
    ids = [row.pk for group in by_invitation.values() for row in group]
    Submission.objects.filter(pk__in=ids).update(processed_at=moment)
    return len(ids)


def _new_response(invitation: Invitation, first: Submission) -> Response:
    survey = invitation.survey
    return Response(
        workspace_id=invitation.workspace_id,
        survey=survey,
        invitation=invitation,
        customer_id=invitation.customer_id,
        language=first.language or invitation.language,
        touchpoint=survey.touchpoint,
        channel=invitation.context_channel or invitation.channel,
        segment=invitation.customer.value_tier,
        agent_id=invitation.agent_id,
        team_id=invitation.team_id,
        created_at=first.received_at,
    )


def _mark_answered(first_answer: dict[int, dt.datetime]) -> None:
    """The first answer's time on each invitation (no reminder after it), in one UPDATE."""
    when = Case(
        *(When(pk=pk, then=Value(at)) for pk, at in first_answer.items()),
        output_field=DateTimeField(),
    )
    Invitation.objects.filter(pk__in=list(first_answer), answered_at__isnull=True).update(
        answered_at=when, opened_at=Coalesce(F("opened_at"), when), updated_at=timezone.now()
    )


def intake_forget_processed(*, now: dt.datetime | None = None) -> int:
    """Delete submissions processed more than a week ago (their answers live in the Response)."""
    moment = now or timezone.now()
    deleted, _ = Submission.objects.filter(processed_at__lt=moment - KEEP_PROCESSED).delete()
    return deleted
