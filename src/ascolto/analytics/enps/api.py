"""GET /analytics/enps: the workspace's latest pulses with their figures, and
POST /analytics/enps/answer: the signed-in agent answers the open pulse. Mounted on the
analytics router. Scores and comments follow the page's rules: none while a pulse is open, none
below MIN_ANSWERS answers; comments only for admins."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from ascolto.accounts.selectors import has_permission
from ascolto.analytics.enps import metric, selectors, services
from ascolto.analytics.enps.models import COMMENT_MAX_LENGTH
from ascolto.core.api import api_auth, require
from ascolto.core.errors import Conflict

router = Router(auth=api_auth)
TAGS = ["analytics"]


class PulseOut(Schema):
    id: int
    period_start: dt.date
    cadence: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    is_open: bool
    asked: int
    answers: int
    response_rate: float | None = Field(description="Answers / agents asked, in percent")
    enps: float | None = Field(
        description="% promoters (9-10) - % detractors (0-6); null while open or below "
        f"{metric.MIN_ANSWERS} answers"
    )
    promoters: int | None
    passives: int | None
    detractors: int | None
    comments: list[str] | None = Field(description="Admins only, with the score")


class EnpsOut(Schema):
    min_answers: int
    pulses: list[PulseOut]


class AnswerIn(Schema):
    score: int = Field(ge=metric.SCORE_MIN, le=metric.SCORE_MAX)
    comment: str = Field("", max_length=COMMENT_MAX_LENGTH)


class AnswerOut(Schema):
    pulse_id: int
    replaced: bool = Field(description="Whether this answer replaced your earlier one")


@router.get("/analytics/enps", response=EnpsOut, tags=TAGS)
def list_enps_pulses(request: HttpRequest) -> dict[str, Any]:
    """The latest employee NPS pulses, newest first, with response rate and eNPS.
    Definition: docs/metrics.md, "Employee NPS"."""
    ctx = require(request, "read")
    admin = has_permission(user=ctx.user, workspace=ctx.workspace, permission="admin")
    results = selectors.pulse_results(
        workspace=ctx.workspace, now=timezone.now(), with_comments=admin
    )
    return {
        "min_answers": metric.MIN_ANSWERS,
        "pulses": [
            {
                "id": r.pulse.pk,
                "period_start": r.pulse.period_start,
                "cadence": r.pulse.cadence,
                "opens_at": r.pulse.opens_at,
                "closes_at": r.pulse.closes_at,
                "is_open": r.is_open,
                "asked": r.enps.asked,
                "answers": r.enps.answers,
                "response_rate": r.enps.response_rate,
                "enps": r.score,
                "promoters": r.enps.promoters if r.shown else None,
                "passives": r.enps.passives if r.shown else None,
                "detractors": r.enps.detractors if r.shown else None,
                "comments": r.comments if admin and r.shown else None,
            }
            for r in results
        ],
    }


@router.post("/analytics/enps/answer", response=AnswerOut, tags=TAGS)
def answer_enps_pulse(request: HttpRequest, payload: AnswerIn) -> dict[str, Any]:
    """Answer the open pulse as the signed-in agent; a second answer replaces the first until
    the pulse closes. 409 when no pulse is open, 403 for someone who was not asked."""
    ctx = require(request, "write")
    now = timezone.now()
    pulse = selectors.open_pulse(workspace=ctx.workspace, now=now)
    if pulse is None:
        raise Conflict(_("No pulse is open."))
    with transaction.atomic():
        _answer, replaced = services.pulse_answer(
            pulse=pulse, user=ctx.user, score=payload.score, comment=payload.comment, now=now
        )
    return {"pulse_id": pulse.pk, "replaced": replaced}
