"""The website intercept: a survey's first question asked on the workspace's own site by a small
snippet (static/ascolto/intercept.js), answered by anonymous visitors.

The snippet names the survey by a public key (a signed survey id: it cannot be guessed from the
id, and a key stops working when the survey is deleted). One answer per visitor, survey and
suppression window of the workspace (`SurveySettings.suppression_days`): the window index is
part of a unique key, so a retried or doubled POST records once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ascolto.core.errors import ValidationFailed
from ascolto.surveys.models import LANGUAGES, InterceptAnswer, Question, Survey
from ascolto.surveys.questions import SCALE_TYPES, AnswerError, clean_answer, scores

SALT = "ascolto.surveys.intercept"
MAX_VISITOR = 64
MAX_PAGE = 300


def _invalid() -> str:
    return _("The answer is not valid.")


def intercept_key(survey: Survey) -> str:
    return signing.Signer(salt=SALT).sign(str(survey.pk))


def survey_for_key(key: str) -> Survey | None:
    """The active survey a snippet key names, None for a bad key or an inactive survey."""
    try:
        value = signing.Signer(salt=SALT).unsign(key)
    except signing.BadSignature:
        return None
    if not value.isdigit():
        return None
    survey_id = int(value)
    return Survey.objects.select_related("workspace").filter(pk=survey_id, is_active=True).first()


def first_question(survey: Survey) -> Question | None:
    """The scale question the snippet asks (the survey's first), None when it is not a scale."""
    first = Question.objects.filter(survey=survey).order_by("position").first()
    return first if first is not None and first.type in SCALE_TYPES else None


def score_columns(question: Question, score: int) -> dict[str, int | None]:
    """The score in the column of its kind, as on a Response (a rating fills none)."""
    found = scores([question], {question.key: score})
    return {"nps_score": found["nps"], "csat_score": found["csat"], "ces_score": found["ces"]}


def period_of(days: int, moment: dt.datetime) -> int:
    """The index of the suppression window `moment` falls in (a day when windows are off)."""
    return int(moment.timestamp() // 86400) // max(days, 1)


def suppression_days(survey: Survey) -> int:
    from ascolto.surveys.services.surveys import settings_for

    return settings_for(survey.workspace).suppression_days


def recently_answered(*, survey: Survey, visitor: str, now: dt.datetime | None = None) -> bool:
    """Server-side suppression for a visitor the snippet knows: answered in this window."""
    moment = now or timezone.now()
    return InterceptAnswer.objects.filter(
        survey=survey, visitor=visitor, period=period_of(suppression_days(survey), moment)
    ).exists()


@dataclass(frozen=True)
class InterceptResult:
    answer: InterceptAnswer
    created: bool


def _clean_visitor(value: Any) -> str:
    text = str(value or "").strip()
    if not 8 <= len(text) <= MAX_VISITOR or not text.isprintable():
        raise ValidationFailed(
            _invalid(),
            field_errors={"visitor": [_("A visitor id of 8 to 64 characters.")]},
        )
    return text


def intercept_answer_record(
    *, survey: Survey, payload: Any, now: dt.datetime | None = None
) -> InterceptResult:
    """Record a visitor's answer `{"visitor", "score", "lang", "page"}`. Raises ValidationFailed
    for a bad payload; a second answer in the same window returns the first (`created` False).
    Runs its own savepoint so the unique key decides a race."""
    if not isinstance(payload, dict):
        raise ValidationFailed(_invalid(), field_errors={"": [_("A JSON object.")]})
    visitor = _clean_visitor(payload.get("visitor"))
    question = first_question(survey)
    if question is None:
        raise ValidationFailed(_("This survey cannot be answered on a website."))
    try:
        score = clean_answer(question, payload.get("score"))
    except AnswerError as exc:
        raise ValidationFailed(_invalid(), field_errors={"score": [str(exc)]}) from None
    if not isinstance(score, int):
        raise ValidationFailed(
            _invalid(),
            field_errors={"score": [_("Please answer this question.")]},
        )
    language = str(payload.get("lang") or "")[:2]
    moment = now or timezone.now()
    period = period_of(suppression_days(survey), moment)
    try:
        with transaction.atomic():
            answer = InterceptAnswer.objects.create(
                workspace=survey.workspace,
                survey=survey,
                visitor=visitor,
                period=period,
                score=score,
                language=language if language in LANGUAGES else survey.default_language,
                page=str(payload.get("page") or "")[:MAX_PAGE],
                created_at=moment,
                **score_columns(question, score),
            )
    except IntegrityError:
        first = InterceptAnswer.objects.get(survey=survey, visitor=visitor, period=period)
        return InterceptResult(first, created=False)
    return InterceptResult(answer, created=True)
