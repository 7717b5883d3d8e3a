"""Journey figures for a period: touches per stage and pain points, read from conversations
(with their triage and tags), survey answers and orders. Every read is scoped by the workspace.

A *touch* is one interaction of a customer with one stage in the period:
- a conversation started in the period (the dashboards' start rule and conversation filters):
  negative when any of its triaged customer messages is negative;
- a survey answer given in the period: negative when it is a poor answer (the closed loop's
  rule: NPS 0-6, CSAT 1-2, high effort, or a negative comment);
- an order placed in the period: a "buy" touch, negative when cancelled or refunded, and a
  "deliver" touch once shipped, delayed, delivered or returned, negative when delayed,
  delivered after its promised date, or returned.

The customers of the period are those with at least one touch (value tier filter applied); a
customer is *unhappy* when at least one of their touches is negative.

Per stage: interactions, customers, negative share of interactions; NPS effect = NPS of the
period's answers from customers who touched the stage minus NPS of the answers from those who
did not; churn effect = mean churn risk of customers who touched it minus those who did not.

Pain points: each cause (a conversation intent or tag, an order problem, a survey comment
theme) has the customers it touched. impact = unhappy share of those customers minus unhappy
share of the other customers of the period (in points of share); score = customers x impact,
i.e. how many more unhappy customers the cause comes with than the same number of other
customers. Causes are ranked by score, then by customers.

The figures are computed set-based (`compute`: one SQL statement of GROUP BYs returning a few
rows per stage and cause); this module turns those sums into the figures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Max, QuerySet
from django.utils.translation import gettext as _

from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.journey import compute
from ascolto.analytics.journey.compute import CANCELLED, LATE_DELIVERY, RETURNED, DrillPage
from ascolto.analytics.journey.stages import DEFAULT_MAP, STAGE_LABELS, STAGES, StageMap
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.models import Customer
from ascolto.inbox.models import Conversation
from ascolto.surveys.metrics import nps_from_counts
from ascolto.surveys.models import Response

DRILL_LIMIT = 200
THEME_COMMENTS = 2000
THEME_CACHE_SECONDS = 24 * 3600
CAUSE_KINDS = ("intent", "tag", "order", "theme")


@dataclass(frozen=True)
class StageFigures:
    stage: str
    label: str
    interactions: int
    customers: int
    negative: int
    negative_share: float | None
    nps_touched: float | None
    nps_not_touched: float | None
    nps_effect: float | None
    churn_touched: float | None
    churn_not_touched: float | None
    churn_effect: float | None


@dataclass(frozen=True)
class PainPoint:
    key: str  # "intent:<name>", "tag:<name>", "order:<problem>" or "theme:<lang>:<words>"
    kind: str
    name: str
    label: str
    interactions: int
    customers: int
    unhappy: int
    unhappy_share: float
    baseline_share: float | None
    impact: float | None
    score: float | None
    nps_effect: float | None


@dataclass
class Journey:
    """The figures of a period. `drill`: the first page behind each stage ("stage:<stage>") and
    each cause (by key), when computed with `drill=True` (the snapshots)."""

    stages: list[StageFigures]
    pain_points: list[PainPoint]
    customers: int
    unhappy: int
    drill: dict[str, DrillPage] | None = None


def comment_theme_causes(
    *, workspace: Workspace, answers: QuerySet[Response], filters: DashboardFilters
) -> dict[int, tuple[str, ...]]:
    """The comment theme of each commented answer of the period, as a cause
    `theme:<language>:<keywords>`: the surveys' themes (TF-IDF and k-means per language, fixed
    seed) over the latest THEME_COMMENTS answers. Cached until an answer arrives or changes."""
    commented = answers.exclude(comment="").filter(language__in=("en", "it", "he"))
    state = commented.aggregate(newest=Max("updated_at"), last=Max("id"), n=Count("id"))
    if not state["n"] or state["n"] < 2:
        return {}
    key = (
        f"journey:themes:{workspace.pk}:{filters.period.first_day}:{filters.period.last_day}:"
        f"{filters.tier}:{state['n']}:{state['last']}:{state['newest'].timestamp()}"
    )
    cached: dict[int, tuple[str, ...]] | None = cache.get(key)
    if cached is not None:
        return cached
    from ascolto.surveys import themes  # scikit-learn loads in about a second: only here

    by_language: dict[str, list[tuple[int, str]]] = defaultdict(list)
    rows = commented.order_by("-id").values_list("id", "language", "comment")[:THEME_COMMENTS]
    for rid, language, comment in rows:
        by_language[language].append((rid, comment))
    found: dict[int, tuple[str, ...]] = {}
    for language, items in sorted(by_language.items()):
        comments = [themes.Comment(text) for _rid, text in items]
        for theme in themes.extract_themes(comments, language=language):
            cause = f"theme:{language}:{', '.join(theme.keywords)}"
            for index in theme.members:
                found[items[index][0]] = (cause,)
    cache.set(key, found, THEME_CACHE_SECONDS)
    return found


def _nps_score(counts: tuple[int, int, int]) -> float | None:
    promoters, passives, detractors = counts
    if not promoters + passives + detractors:
        return None
    return nps_from_counts(promoters=promoters, passives=passives, detractors=detractors).score


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _mean(total: float, n: int) -> float | None:
    return total / n if n else None


def _split_nps(
    inside: tuple[int, int, int], everyone: tuple[int, int, int]
) -> tuple[float | None, float | None, float | None]:
    """NPS of the answers inside a group, of the others, and the difference."""
    outside = (everyone[0] - inside[0], everyone[1] - inside[1], everyone[2] - inside[2])
    with_, without = _nps_score(inside), _nps_score(outside)
    return with_, without, _difference(with_, without)


def cause_label(key: str) -> str:
    kind, _sep, name = key.partition(":")
    if kind == "order":
        return {
            LATE_DELIVERY: _("Late delivery"),
            RETURNED: _("Order returned"),
            CANCELLED: _("Order cancelled or refunded"),
        }.get(name, name)
    if kind == "intent":
        return _("Intent: %(name)s") % {"name": name}
    if kind == "theme":
        language, _sep, keywords = name.partition(":")
        return _("Comment theme (%(language)s): %(keywords)s") % {
            "language": language,
            "keywords": keywords,
        }
    return _("Tag: %(name)s") % {"name": name}


def journey(
    *,
    workspace: Workspace,
    filters: DashboardFilters,
    mapping: StageMap = DEFAULT_MAP,
    drill: bool = False,
) -> Journey:
    """Stage figures and ranked pain points of the period (definitions in the module
    docstring and docs/metrics.md); with `drill`, also the first DRILL_LIMIT customers and
    conversations behind each stage and cause."""
    answers = compute.period_answers(workspace, filters)
    themes = comment_theme_causes(workspace=workspace, answers=answers, filters=filters)
    sums = compute.journey_sums(
        workspace=workspace,
        filters=filters,
        mapping=mapping,
        themes=themes,
        drill=DRILL_LIMIT if drill else 0,
    )
    stages = []
    for stage in STAGES:
        s = sums.stages[stage]
        nps_in, nps_out, nps_effect = _split_nps(s.nps_in, sums.nps_all)
        churn_in, churn_out = _mean(*s.risk_in), _mean(*s.risk_out)
        stages.append(
            StageFigures(
                stage=stage,
                label=str(STAGE_LABELS[stage]),
                interactions=s.interactions,
                customers=s.customers,
                negative=s.negative,
                negative_share=s.negative / s.interactions if s.interactions else None,
                nps_touched=nps_in,
                nps_not_touched=nps_out,
                nps_effect=nps_effect,
                churn_touched=churn_in,
                churn_not_touched=churn_out,
                churn_effect=_difference(churn_in, churn_out),
            )
        )
    points = []
    for key, c in sums.causes.items():
        n, bad = c.customers, c.unhappy
        others = sums.customers - n
        baseline = (sums.unhappy - bad) / others if others else None
        impact = _difference(bad / n, baseline)
        kind, _sep, name = key.partition(":")
        points.append(
            PainPoint(
                key=key,
                kind=kind,
                name=name,
                label=cause_label(key),
                interactions=c.interactions,
                customers=n,
                unhappy=bad,
                unhappy_share=bad / n,
                baseline_share=baseline,
                impact=impact,
                score=None if impact is None else n * impact,
                nps_effect=_split_nps(c.nps_in, sums.nps_all)[2],
            )
        )
    points.sort(key=lambda p: (p.score is None, -(p.score or 0.0), -p.customers, p.key))
    return Journey(stages, points, sums.customers, sums.unhappy, sums.drill if drill else None)


# --- Drill-down --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drill:
    """The first page behind a stage or a cause. `unhappy`: the unhappy ones among `customers`;
    the counts are of everyone behind it."""

    label: str
    customers: list[Customer]
    unhappy: set[int]
    conversations: list[Conversation]
    customer_count: int
    conversation_count: int
    unhappy_count: int = 0
    customer_ids: tuple[int, ...] = ()  # the page's, in its order (also without rows)
    conversation_ids: tuple[int, ...] = ()


# What the drill-down page shows of each row (loading whole rows cost more than the query).
DRILL_CUSTOMER_FIELDS = ("id", "workspace_id", "name", "value_tier")
DRILL_CONVERSATION_FIELDS = (
    "id",
    "workspace_id",
    "customer_id",
    "subject",
    "last_message_preview",
    "status",
    "customer__id",
    "customer__name",
)


def drill_key(*, stage: str = "", cause: str = "") -> str:
    """The key of the drill-down of a stage or a cause. Raises ValidationFailed for an unknown
    stage, for a cause that is not of the form kind:name, or for both or neither."""
    if bool(stage) == bool(cause):
        raise ValidationFailed(
            _("Choose a stage or a cause."), field_errors={"stage": [_("Choose one.")]}
        )
    if stage and stage not in STAGES:
        raise ValidationFailed(_("Unknown stage."), field_errors={"stage": [_("Unknown stage.")]})
    kind, _sep, name = cause.partition(":")
    if cause and (kind not in CAUSE_KINDS or not name):
        raise ValidationFailed(_("Unknown cause."), field_errors={"cause": [_("Unknown cause.")]})
    return f"stage:{stage}" if stage else cause


def drill_label(key: str) -> str:
    kind, _sep, name = key.partition(":")
    return str(STAGE_LABELS[name]) if kind == "stage" else cause_label(key)


def drill_of_page(*, workspace: Workspace, key: str, page: DrillPage, rows: bool = True) -> Drill:
    """The drill-down of one stored page: its customers and conversations loaded by id (two
    queries of at most DRILL_LIMIT rows, scoped by the workspace); without `rows`, only their
    ids (no query)."""
    shown = [pk for pk, _unhappy in page.customers][:DRILL_LIMIT]
    latest = page.conversations[:DRILL_LIMIT]
    if not rows:
        return Drill(
            label=drill_label(key),
            customers=[],
            unhappy={pk for pk, unhappy in page.customers[:DRILL_LIMIT] if unhappy},
            conversations=[],
            customer_count=page.customer_count,
            conversation_count=page.conversation_count,
            unhappy_count=page.unhappy_count,
            customer_ids=tuple(shown),
            conversation_ids=tuple(latest),
        )
    by_pk = (
        Customer.objects.filter(workspace=workspace, pk__in=shown)
        .only(*DRILL_CUSTOMER_FIELDS)
        .in_bulk()
    )
    conversations = list(
        Conversation.objects.filter(workspace=workspace, pk__in=latest)
        .select_related("customer")
        .only(*DRILL_CONVERSATION_FIELDS)
        .order_by("-id")
    )
    return Drill(
        label=drill_label(key),
        customers=[by_pk[pk] for pk in shown if pk in by_pk],
        unhappy={pk for pk, unhappy in page.customers[:DRILL_LIMIT] if unhappy},
        conversations=conversations,
        customer_count=page.customer_count,
        conversation_count=page.conversation_count,
        unhappy_count=page.unhappy_count,
        customer_ids=tuple(shown),
        conversation_ids=tuple(latest),
    )


def journey_drill(
    *,
    workspace: Workspace,
    filters: DashboardFilters,
    stage: str = "",
    cause: str = "",
    mapping: StageMap = DEFAULT_MAP,
    rows: bool = True,
) -> Drill:
    """The customers and conversations behind one stage or one cause, computed now (at most
    DRILL_LIMIT of each, unhappy customers first; conversations newest first). Raises
    ValidationFailed as `drill_key`. The page reads it from a snapshot
    (`snapshots.drill_for_page`)."""
    key = drill_key(stage=stage, cause=cause)
    figures = journey(workspace=workspace, filters=filters, mapping=mapping, drill=True)
    page = (figures.drill or {}).get(key, DrillPage())
    return drill_of_page(workspace=workspace, key=key, page=page, rows=rows)
