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

from ascolto.surveys.models import Question, Survey

MAX_SURVEYS = 512

_lock = threading.Lock()
_cache: OrderedDict[tuple[int, dt.datetime], list[Question]] = OrderedDict()


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
