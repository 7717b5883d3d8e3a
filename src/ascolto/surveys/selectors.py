"""Survey reads. Every selector takes the workspace and filters by it (the public page finds its
invitation through a signed token instead)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.cache import cache
from django.db.models import Count, F, Max, QuerySet
from django.utils import timezone

from ascolto.accounts.models import Team, User
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.pagination import decode_cursor, encode_cursor
from ascolto.customers.models import ValueTier
from ascolto.inbox.models import Channel
from ascolto.surveys import aggregates as agg
from ascolto.surveys import metrics, rollups, tokens
from ascolto.surveys.models import (
    FollowUp,
    InterceptAnswer,
    Invitation,
    Question,
    Response,
    Survey,
    Touchpoint,
)

if TYPE_CHECKING:
    from ascolto.surveys.themes import Theme

MAX_PAGE = 200
BREAKDOWNS = agg.BREAKDOWNS
LANGUAGE_NAMES = {"en": "English", "it": "Italiano", "he": "עברית"}


_Answer = TypeVar("_Answer", Response, InterceptAnswer)


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def _page(qs: QuerySet[Any], cursor: str | None, limit: int) -> Page:
    """Newest first by id, keyset-paginated."""
    limit = max(1, min(limit, MAX_PAGE))
    if cursor:
        (last_id,) = decode_cursor(cursor, types=(int,))
        qs = qs.filter(pk__lt=last_id)
    rows = list(qs.order_by("-pk")[: limit + 1])
    return Page(rows[:limit], encode_cursor(rows[limit - 1].pk) if len(rows) > limit else None)


# --- The public page ------------------------------------------------------------------------


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation a survey link stands for, or None when the token is tampered with, signed
    for something else, or not one the invitation issued."""
    parsed = tokens.parse_token(token)
    if parsed is None:
        return None
    invitation = (
        Invitation.objects.select_related("survey", "survey__workspace", "customer")
        .filter(pk=parsed.invitation_id)
        .first()
    )
    if invitation is None or not tokens.digest_matches(parsed.nonce, invitation.token_digests):
        return None
    return invitation


def questions_of(survey: Survey) -> list[Question]:
    return list(Question.objects.filter(survey=survey).order_by("position"))


def survey_has_responses(survey: Survey) -> bool:
    """Whether anyone answered: its questions are then fixed (answers are keyed by them)."""
    return Response.objects.filter(survey=survey).exists()


def response_of(invitation: Invitation) -> Response | None:
    return Response.objects.filter(invitation=invitation).first()


# --- Surveys, invitations, responses, follow-ups ---------------------------------------------


def survey_get(*, workspace: Workspace, survey_id: int) -> Survey:
    survey = Survey.objects.filter(workspace=workspace, pk=survey_id).first()
    if survey is None:
        raise NotFound(f"No survey #{survey_id} in this workspace.")
    return survey


def survey_list(
    *,
    workspace: Workspace,
    active: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    qs = Survey.objects.filter(workspace=workspace)
    if active is not None:
        qs = qs.filter(is_active=active)
    return _page(qs, cursor, limit)


def invitation_get(*, workspace: Workspace, invitation_id: int) -> Invitation:
    invitation = (
        Invitation.objects.select_related("survey", "survey__workspace", "customer")
        .filter(workspace=workspace, pk=invitation_id)
        .first()
    )
    if invitation is None:
        raise NotFound(f"No survey invitation #{invitation_id} in this workspace.")
    return invitation


def invitation_list(
    *,
    workspace: Workspace,
    survey: Survey | None = None,
    status: str | None = None,
    customer_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    qs = Invitation.objects.filter(workspace=workspace)
    if survey is not None:
        qs = qs.filter(survey=survey)
    if status:
        qs = qs.filter(status=status)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return _page(qs, cursor, limit)


def response_get(*, workspace: Workspace, response_id: int) -> Response:
    response = (
        Response.objects.select_related("survey", "survey__workspace", "invitation", "customer")
        .filter(workspace=workspace, pk=response_id)
        .first()
    )
    if response is None:
        raise NotFound(f"No survey response #{response_id} in this workspace.")
    return response


@dataclass(frozen=True)
class ResponseFilter:
    survey_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    completed: bool | None = None
    customer_id: int | None = None


def _survey_and_period(qs: QuerySet[_Answer], f: ResponseFilter) -> QuerySet[_Answer]:
    """`qs` narrowed to the filter's survey and [since, until) creation period."""
    if f.survey_id is not None:
        qs = qs.filter(survey_id=f.survey_id)
    if f.since is not None:
        qs = qs.filter(created_at__gte=f.since)
    if f.until is not None:
        qs = qs.filter(created_at__lt=f.until)
    return qs


def _responses(workspace: Workspace, f: ResponseFilter) -> QuerySet[Response]:
    if f.since is not None and f.until is not None and f.since >= f.until:
        raise ValidationFailed(
            "`since` must be before `until`.", field_errors={"since": ["Must be before `until`."]}
        )
    qs = _survey_and_period(Response.objects.filter(workspace=workspace), f)
    if f.completed is not None:
        qs = qs.filter(completed=f.completed)
    if f.customer_id is not None:
        qs = qs.filter(customer_id=f.customer_id)
    return qs


def response_list(
    *, workspace: Workspace, filters: ResponseFilter, cursor: str | None = None, limit: int = 50
) -> Page:
    return _page(_responses(workspace, filters), cursor, limit)


def followup_get(*, workspace: Workspace, followup_id: int) -> FollowUp:
    followup = (
        FollowUp.objects.select_related(
            "workspace", "response", "response__survey", "customer", "conversation", "owner"
        )
        .filter(workspace=workspace, pk=followup_id)
        .first()
    )
    if followup is None:
        raise NotFound(f"No follow-up #{followup_id} in this workspace.")
    return followup


def followup_list(
    *,
    workspace: Workspace,
    status: str | None = None,
    owner_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    qs = FollowUp.objects.filter(workspace=workspace)
    if status:
        qs = qs.filter(status=status)
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    return _page(qs, cursor, limit)


# --- Metrics --------------------------------------------------------------------------------


@dataclass
class MetricsResult:
    by: str | None
    totals: metrics.GroupMetrics
    groups: list[tuple[metrics.GroupMetrics, str]]


def metric_counts(
    *, workspace: Workspace, filters: ResponseFilter, by: str | None = None
) -> MetricsResult:
    """NPS, CSAT, CES and response rate for the selection, and per group when `by` names a
    breakdown (channel, team, agent, segment, language, touchpoint, survey). Responses count by
    the time of their first answer, invitations by the time they were sent. Whole past days come
    from the daily rollups (surveys/rollups.py) when they cover them; the rest is counted with
    GROUP BY queries. Responses count whether finished or not: a score the customer gave is a
    score."""
    if by is not None and by not in BREAKDOWNS:
        raise ValidationFailed(
            "Unknown breakdown.", field_errors={"by": [f"One of: {', '.join(BREAKDOWNS)}."]}
        )
    _responses(workspace, filters)  # validates the period
    rows, rates = _counts(workspace, filters, by)
    if by is None:
        total = _group_counts("", rows.get("", {}), rates.get("", {}))
        return MetricsResult(by=None, totals=metrics.summarize(total), groups=[])
    keys = sorted(set(rows) | set(rates))
    groups = [_group_counts(k, rows.get(k, {}), rates.get(k, {})) for k in keys]
    labels = _labels(workspace, by, keys)
    total_row = {
        name: sum(getattr(g, name) for g in groups)
        for name in (*agg.RESPONSE_COUNTS, *agg.RATE_COUNTS)
    }
    totals = metrics.GroupCounts(key="", **total_row)
    ordered = sorted(groups, key=lambda g: (-g.responses, g.key))
    return MetricsResult(
        by=by,
        totals=metrics.summarize(totals),
        groups=[(metrics.summarize(g), labels.get(g.key, g.key)) for g in ordered],
    )


TREND_WEEKS = 12


@dataclass(frozen=True)
class TrendPoint:
    week: dt.date  # the Monday (UTC) the week starts
    figures: metrics.GroupMetrics


def metric_trend(
    *,
    workspace: Workspace,
    survey_id: int | None = None,
    weeks: int = TREND_WEEKS,
    now: dt.datetime | None = None,
) -> list[TrendPoint]:
    """NPS, CSAT, CES and response rate week by week (UTC weeks from Monday), oldest first,
    this week last. Each week is one `metric_counts`, so whole past days come from the rollups."""
    this_week = _week_start(now or timezone.now())
    points = []
    for age in range(weeks - 1, -1, -1):
        start = this_week - dt.timedelta(weeks=age)
        since = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
        period = ResponseFilter(
            survey_id=survey_id, since=since, until=since + dt.timedelta(weeks=1)
        )
        result = metric_counts(workspace=workspace, filters=period)
        points.append(TrendPoint(week=start, figures=result.totals))
    return points


Counts = dict[str, dict[str, Any]]


def _counts(workspace: Workspace, filters: ResponseFilter, by: str | None) -> tuple[Counts, Counts]:
    """Response and invitation counts per group key: rollups for whole covered days plus direct
    counts of the edges, or all direct."""
    plan = rollups.plan(
        workspace=workspace,
        since=filters.since,
        until=filters.until,
        customer_id=filters.customer_id,
    )
    if plan is None:
        return _direct_counts(workspace, filters, by)
    rows, rates = rollups.counts(
        workspace=workspace,
        first_day=plan.first_day,
        end_day=plan.end_day,
        by=by,
        survey_id=filters.survey_id,
        completed=filters.completed,
    )
    for since, until in plan.edges:
        edge = dataclasses.replace(filters, since=since, until=until)
        edge_rows, edge_rates = _direct_counts(workspace, edge, by)
        _add(rows, edge_rows, agg.RESPONSE_COUNTS)
        _add(rates, edge_rates, agg.RATE_COUNTS)
    return rows, rates


def _add(into: Counts, more: Counts, names: tuple[str, ...]) -> None:
    for key, counts in more.items():
        target = into.setdefault(key, dict.fromkeys(names, 0))
        for name in names:
            target[name] = (target.get(name) or 0) + (counts.get(name) or 0)


def _direct_counts(
    workspace: Workspace, filters: ResponseFilter, by: str | None
) -> tuple[Counts, Counts]:
    responses = _responses(workspace, filters)
    invitations = Invitation.objects.filter(
        workspace=workspace,
        sent_at__isnull=False,
        status__in=[Invitation.Status.SENT, Invitation.Status.BOUNCED],
    )
    if filters.survey_id is not None:
        invitations = invitations.filter(survey_id=filters.survey_id)
    if filters.since is not None:
        invitations = invitations.filter(sent_at__gte=filters.since)
    if filters.until is not None:
        invitations = invitations.filter(sent_at__lt=filters.until)
    if filters.customer_id is not None:
        invitations = invitations.filter(customer_id=filters.customer_id)
    if by is None:
        row = responses.aggregate(**agg.response_counts())
        rate = invitations.aggregate(**agg.rate_counts())
        totals = {"": row} if row["responses"] else {}
        _add_intercepts(totals, workspace, filters, by)
        return totals, ({"": rate} if rate["sent"] else {})
    field = agg.RESPONSE_GROUP_FIELD[by]
    rows = {
        _key(r["group"]): dict(r)
        for r in responses.values(group=F(field)).annotate(**agg.response_counts()).order_by()
    }
    rates = {
        _key(r["group"]): dict(r)
        for r in invitations.values(group=agg.invitation_group(by))
        .annotate(**agg.rate_counts())
        .order_by()
    }
    _add_intercepts(rows, workspace, filters, by)
    return rows, rates


def intercepts_of(workspace: Workspace, f: ResponseFilter) -> QuerySet[InterceptAnswer] | None:
    """The website intercept answers of the selection; None when it excludes them all (one
    customer: they are anonymous; unfinished responses: they are complete)."""
    if f.customer_id is not None or f.completed is False:
        return None
    return _survey_and_period(InterceptAnswer.objects.filter(workspace=workspace), f)


def _add_intercepts(rows: Counts, workspace: Workspace, f: ResponseFilter, by: str | None) -> None:
    intercepts = intercepts_of(workspace, f)
    if intercepts is None:
        return
    found = {_key(r.pop("group")): r for r in agg.intercept_counts(intercepts, by)}
    _add(rows, found, agg.RESPONSE_COUNTS)


def _key(value: Any) -> str:
    return "" if value is None else str(value)


def _group_counts(key: str, row: dict[str, Any], rate: dict[str, Any]) -> metrics.GroupCounts:
    return metrics.GroupCounts(
        key=key,
        responses=int(row.get("responses") or 0),
        promoters=int(row.get("promoters") or 0),
        passives=int(row.get("passives") or 0),
        detractors=int(row.get("detractors") or 0),
        csat_n=int(row.get("csat_n") or 0),
        csat_satisfied=int(row.get("csat_satisfied") or 0),
        ces_n=int(row.get("ces_n") or 0),
        ces_total=float(row.get("ces_total") or 0),
        sent=int(rate.get("sent") or 0),
        answered=int(rate.get("answered") or 0),
    )


def _labels(workspace: Workspace, by: str, keys: list[str]) -> dict[str, str]:
    ids = [int(k) for k in keys if k.isdigit()]
    if by == "agent":
        users = User.objects.filter(pk__in=ids, memberships__workspace=workspace)
        return {str(u.pk): str(u) for u in users}
    if by == "team":
        return {
            str(pk): name
            for pk, name in Team.objects.filter(workspace=workspace, pk__in=ids).values_list(
                "pk", "name"
            )
        }
    if by == "survey":
        return {
            str(pk): name
            for pk, name in Survey.objects.filter(workspace=workspace, pk__in=ids).values_list(
                "pk", "name"
            )
        }
    all_choices: dict[str, dict[str, Any]] = {
        "segment": dict(ValueTier.choices),
        "touchpoint": dict(Touchpoint.choices),
        "channel": {
            **dict(Channel.choices),
            **dict(Invitation.Channel.choices),
            agg.WEBSITE_CHANNEL: Touchpoint.WEBSITE.label,
        },
        "language": LANGUAGE_NAMES,
    }
    choices = all_choices.get(by, {})
    return {k: str(choices.get(k, k)) for k in keys}


def closed_loop_summary(
    *, workspace: Workspace, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> metrics.LoopSummary:
    """Closed-loop figures for follow-ups opened in the period: share contacted, time to first
    contact and to close (hours from the answer), and the change of score when the customer
    answered the same survey again later."""
    followups = FollowUp.objects.filter(workspace=workspace)
    if since is not None:
        followups = followups.filter(created_at__gte=since)
    if until is not None:
        followups = followups.filter(created_at__lt=until)
    rows = list(
        followups.select_related("response").only(
            "first_contact_at",
            "closed_at",
            "response__created_at",
            "response__survey_id",
            "response__customer_id",
            "response__nps_score",
            "response__csat_score",
            "response__ces_score",
        )
    )
    later = _later_scores(rows)
    cases = []
    for f in rows:
        start = f.response.created_at
        before = _score(f.response.nps_score, f.response.csat_score, f.response.ces_score)
        cases.append(
            metrics.LoopCase(
                hours_to_first_contact=_hours(start, f.first_contact_at),
                hours_to_close=_hours(start, f.closed_at),
                score_before=before,
                score_after=later.get(f.response_id) if before is not None else None,
            )
        )
    return metrics.closed_loop(poor_answers=len(rows), cases=cases)


def _score(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _hours(start: dt.datetime, end: dt.datetime | None) -> float | None:
    return None if end is None else max(0.0, (end - start).total_seconds() / 3600)


def _later_scores(rows: list[FollowUp]) -> dict[int, int]:
    """For each followed-up response, the score of the same customer's next answer to the same
    survey, if any."""
    found: dict[int, int] = {}
    for f in rows:
        nxt = (
            Response.objects.filter(
                survey_id=f.response.survey_id,
                customer_id=f.response.customer_id,
                created_at__gt=f.response.created_at,
            )
            .order_by("created_at")
            .values_list("nps_score", "csat_score", "ces_score")
            .first()
        )
        if nxt is not None:
            score = _score(*nxt)
            if score is not None:
                found[f.response_id] = score
    return found


# --- CSV export -----------------------------------------------------------------------------

CSV_COLUMNS = [
    "response_id",
    "survey_id",
    "survey",
    "kind",
    "touchpoint",
    "started_at",
    "submitted_at",
    "completed",
    "closed",
    "language",
    "customer_id",
    "customer_external_id",
    "customer_name",
    "segment",
    "channel",
    "invitation_channel",
    "conversation_id",
    "order_external_id",
    "agent_id",
    "agent",
    "team",
    "nps_score",
    "csat_score",
    "ces_score",
    "sentiment",
    "comment",
    "source",  # "response", or "website" for a website intercept answer
    "page",  # the page a website answer was given on
]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    text = str(value)
    # Spreadsheets run cells starting with these as formulas (CSV injection); numbers are safe.
    if text.startswith(FORMULA_PREFIXES) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def response_csv_lines(
    *, workspace: Workspace, survey: Survey, filters: ResponseFilter
) -> Iterator[str]:
    """CSV lines, header first: one row per response with its context and every answer (one
    column per question, `q:<key>`; several choices joined by "; "), then one per website
    intercept answer (`source` "website", no response id or customer, its score under the
    first question). Streams from the database
    in chunks; cells that would run as spreadsheet formulas are quoted with a leading '."""
    keys = [q.key for q in questions_of(survey)]
    qs = (
        _responses(
            workspace,
            ResponseFilter(
                survey_id=survey.pk,
                since=filters.since,
                until=filters.until,
                completed=filters.completed,
                customer_id=filters.customer_id,
            ),
        )
        .select_related("customer", "invitation", "invitation__order", "agent", "team")
        .order_by("pk")
    )
    writer = csv.writer(_Echo())
    yield writer.writerow([*CSV_COLUMNS, *(f"q:{k}" for k in keys)])
    for r in qs.iterator(chunk_size=2000):
        inv = r.invitation
        row = [
            r.pk,
            survey.pk,
            survey.name,
            survey.kind,
            r.touchpoint,
            r.created_at,
            r.submitted_at,
            r.completed,
            r.closed,
            r.language,
            r.customer_id,
            r.customer.external_id,
            r.customer.name,
            r.segment,
            r.channel,
            inv.channel,
            inv.conversation_id,
            inv.order.external_id if inv.order else None,
            r.agent_id,
            r.agent.get_username() if r.agent else None,
            r.team.name if r.team else None,
            r.nps_score,
            r.csat_score,
            r.ces_score,
            r.sentiment,
            r.comment,
            "response",
            "",
            *(r.answers.get(k) for k in keys),
        ]
        yield writer.writerow([_cell(v) for v in row])
    intercepts = intercepts_of(
        workspace,
        ResponseFilter(
            survey_id=survey.pk,
            since=filters.since,
            until=filters.until,
            completed=filters.completed,
            customer_id=filters.customer_id,
        ),
    )
    if intercepts is None or not keys:
        return
    for a in intercepts.order_by("pk").iterator(chunk_size=2000):
        row = [
            None,
            survey.pk,
            survey.name,
            survey.kind,
            survey.touchpoint,
            a.created_at,
            a.created_at,
            True,
            Response.Closed.SUBMITTED,
            a.language,
            *([None] * 4),
            agg.WEBSITE_CHANNEL,
            *([None] * 6),
            a.nps_score,
            a.csat_score,
            a.ces_score,
            "",
            "",
            "website",
            a.page,
            a.score,  # the first question's answer
            *([None] * (len(keys) - 1)),
        ]
        yield writer.writerow([_cell(v) for v in row])


# --- Comment themes --------------------------------------------------------------------------

THEME_COMMENTS_LIMIT = 2000
THEME_TREND_WEEKS = 12
THEME_CACHE_SECONDS = 24 * 3600
# scikit-learn loads in about a second: only the pages that show themes pay for it.


def comment_themes(
    *,
    workspace: Workspace,
    survey_id: int,
    limit: int = THEME_COMMENTS_LIMIT,
    now: dt.datetime | None = None,
) -> dict[str, list[Theme]]:
    """The themes of a survey's latest `limit` comments, per language (en, it, he), each with
    its effect on the survey's score and its comments per week over the last 12 weeks (this
    week last). Languages with fewer than two comments have none.

    Clustering takes about a second for 2,000 comments, so the result is cached until a comment
    arrives or changes, or the week turns (the key holds the newest commented response, how
    many there are, and the week)."""
    from ascolto.surveys import themes

    commented = (
        Response.objects.filter(workspace=workspace, survey_id=survey_id)
        .exclude(comment="")
        .filter(language__in=themes.LANGUAGES)
    )
    this_week = _week_start(now or timezone.now())
    state = commented.aggregate(newest=Max("updated_at"), last=Max("id"), n=Count("id"))
    key = (
        f"surveys:themes:{workspace.pk}:{survey_id}:{limit}:{this_week.isoformat()}:"
        f"{state['last']}:{state['n']}:{state['newest'].timestamp() if state['newest'] else 0}"
    )
    cached: dict[str, list[Theme]] | None = cache.get(key)
    if cached is not None:
        return cached
    rows = commented.order_by("-id").values_list(
        "language", "comment", "nps_score", "csat_score", "ces_score", "created_at"
    )[:limit]
    by_language: dict[str, list[themes.Comment]] = {}
    for language, comment, nps, csat, ces, created_at in rows:
        score = _score(nps, csat, ces)
        age = (this_week - _week_start(created_at)).days // 7
        by_language.setdefault(language, []).append(
            themes.Comment(
                comment,
                None if score is None else float(score),
                week=THEME_TREND_WEEKS - 1 - age if 0 <= age < THEME_TREND_WEEKS else None,
            )
        )
    found = {
        language: themes.extract_themes(comments, language=language, weeks=THEME_TREND_WEEKS)
        for language, comments in sorted(by_language.items())
    }
    cache.set(key, found, THEME_CACHE_SECONDS)
    return found


def _week_start(moment: dt.datetime) -> dt.date:
    day = moment.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())
