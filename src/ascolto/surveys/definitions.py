"""A survey's questions, cached per survey version in each process.

The public pages and the intake worker read the questions of a survey on every answer; they
change only through `survey_set_questions`, which moves the survey's `updated_at`. So the
questions are kept under (survey id, updated_at): a changed survey is simply a new key, and
every process sees the change as soon as it reads the survey row it needs anyway.
Cached Question objects are shared between requests: callers must not modify them.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

from ascolto.surveys import tokens
from ascolto.surveys.models import Invitation, Question, Survey

MAX_SURVEYS = 512

_lock = threading.Lock()
_cache: OrderedDict[tuple[int, dt.datetime], list[Question]] = OrderedDict()
_surveys: OrderedDict[tuple[int, dt.datetime], Survey] = OrderedDict()

INVITATION_SQL = (
    "SELECT i.*, s.updated_at AS survey_version FROM surveys_invitation i"
    " JOIN surveys_survey s ON s.id = i.survey_id WHERE i.id = %s"
)


def invitation_for_page(token: str) -> Invitation | None:
    """`selectors.invitation_for_token` for the public page's hot path: one query for the
    invitation and its survey's version, the Survey (with its workspace) from this process's
    cache of that version. The survey object is shared: callers must not modify it."""
    parsed = tokens.parse_token(token)
    if parsed is None:
        return None
    found = list(Invitation.objects.raw(INVITATION_SQL, [parsed.invitation_id]))
    if not found or not tokens.digest_matches(parsed.nonce, found[0].token_digests):
        return None
    invitation = found[0]
    version = invitation.survey_version  # type: ignore[attr-defined]
    if isinstance(version, str):  # SQLite hands raw() the stored text
        version = Survey._meta.get_field("updated_at").to_python(version)
    key = (invitation.survey_id, version)
    with _lock:
        survey = _surveys.get(key)
    if survey is None:
        survey = Survey.objects.select_related("workspace").get(pk=invitation.survey_id)
        with _lock:
            _surveys[key] = survey
            while len(_surveys) > MAX_SURVEYS:
                _surveys.popitem(last=False)
    invitation.survey = survey
    return invitation


def survey_questions(survey: Survey) -> list[Question]:
    """The survey's questions in order (a shared list: do not modify)."""
    key = (survey.pk, survey.updated_at)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    questions = list(Question.objects.filter(survey_id=survey.pk).order_by("position"))
    with _lock:
        _cache[key] = questions
        while len(_cache) > MAX_SURVEYS:
            _cache.popitem(last=False)
    return questions


def forget(survey_id: int) -> None:
    """Drop the cached versions of a survey (its questions were replaced)."""
    with _lock:
        for key in [k for k in _cache if k[0] == survey_id]:
            del _cache[key]
        for key in [k for k in _surveys if k[0] == survey_id]:
            del _surveys[key]
