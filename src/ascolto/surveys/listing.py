"""A survey's response list for staff: its responses and its website intercept answers
(InterceptAnswer) in one newest-first list with one cursor."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.pagination import decode_cursor, encode_cursor
from ascolto.surveys import aggregates as agg
from ascolto.surveys.selectors import (
    MAX_PAGE,
    Page,
    ResponseFilter,
    _responses,
    _score,
    intercepts_of,
)


@dataclass(frozen=True)
class ResponseRow:
    """One line of a survey's response list: a response, or a website intercept answer
    (`source` "website": anonymous, complete, channel "website", the page it was given on)."""

    source: str  # "response" | "website"
    pk: int
    created_at: dt.datetime
    score: int | None
    comment: str
    sentiment: str
    language: str
    channel: str
    customer_id: int | None
    page: str = ""


RESPONSE_ROW_RANK = {"response": 0, "website": 1}


def response_rows(
    *,
    workspace: Workspace,
    survey_id: int,
    completed: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """A survey's responses and website answers together, newest first, keyset-paginated on
    (time, source, id) so the two tables page as one list."""
    limit = max(1, min(limit, MAX_PAGE))
    selection = ResponseFilter(survey_id=survey_id, completed=completed)
    responses = _responses(workspace, selection)
    intercepts = intercepts_of(workspace, selection)
    if cursor:
        moment, source, last_id = decode_cursor(cursor, types=(dt.datetime, str, int))
        if source not in RESPONSE_ROW_RANK or timezone.is_naive(moment):
            raise ValidationFailed("Invalid cursor.")
        before = Q(created_at__lt=moment)
        same = Q(created_at=moment)
        if source == "website":
            responses = responses.filter(before | same)
            if intercepts is not None:
                intercepts = intercepts.filter(before | (same & Q(pk__lt=last_id)))
        else:
            responses = responses.filter(before | (same & Q(pk__lt=last_id)))
            if intercepts is not None:
                intercepts = intercepts.filter(before)
    rows = [
        ResponseRow(
            "response",
            r.pk,
            r.created_at,
            _score(r.nps_score, r.csat_score, r.ces_score),
            r.comment,
            r.sentiment,
            r.language,
            r.channel,
            r.customer_id,
        )
        for r in responses.order_by("-created_at", "-pk")[: limit + 1]
    ]
    if intercepts is not None:
        rows += [
            ResponseRow(
                "website",
                a.pk,
                a.created_at,
                a.score,
                "",
                "",
                a.language,
                agg.WEBSITE_CHANNEL,
                None,
                a.page,
            )
            for a in intercepts.order_by("-created_at", "-pk")[: limit + 1]
        ]
    rows.sort(key=lambda r: (r.created_at, RESPONSE_ROW_RANK[r.source], r.pk), reverse=True)
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], encode_cursor(last.created_at, last.source, last.pk))
