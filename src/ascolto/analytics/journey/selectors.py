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
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.core.cache import cache
from django.db.models import Count, Max, QuerySet
from django.utils.translation import gettext as _

from ascolto.analytics.dashboards.conversations import conversation_queryset
from ascolto.analytics.dashboards.filters import DashboardFilters, Period
from ascolto.analytics.journey.stages import (
    BUY,
    DEFAULT_MAP,
    DELIVER,
    STAGE_LABELS,
    STAGES,
    StageMap,
)
from ascolto.assistant.models import MessageTriage
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.models import Customer, Order
from ascolto.inbox.models import Conversation, Message
from ascolto.recommendations.selectors import DEFAULT_GAP_DAYS, churn_risk
from ascolto.surveys.metrics import nps
from ascolto.surveys.models import Response
from ascolto.surveys.services import poor_reason

NEGATIVE = "negative"
CONVERSATION, ANSWER, ORDER = "conversation", "answer", "order"
DELIVERY_STATUSES = (
    Order.Status.SHIPPED,
    Order.Status.DELAYED,
    Order.Status.DELIVERED,
    Order.Status.RETURNED,
)
NOT_PURCHASES = (Order.Status.CANCELLED, Order.Status.REFUNDED, Order.Status.RETURNED)
LATE_DELIVERY, RETURNED, CANCELLED = "late_delivery", "returned", "cancelled"
DRILL_LIMIT = 200
THEME_COMMENTS = 2000
ID_BATCH = 10_000
THEME_CACHE_SECONDS = 24 * 3600
CAUSE_KINDS = ("intent", "tag", "order", "theme")


class Touch(NamedTuple):
    """A tuple: hundreds of thousands are built per read (three times cheaper than a frozen
    dataclass)."""

    kind: str  # conversation, answer or order
    ref_id: int
    customer_id: int
    stage: str
    negative: bool
    causes: tuple[str, ...] = ()


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
    touches: list[Touch]
    stages: list[StageFigures]
    pain_points: list[PainPoint]
    customers: int
    unhappy: int
    risk: dict[int, float] = field(default_factory=dict)


# --- Touches -----------------------------------------------------------------------------------


def _of_customers(filters: DashboardFilters) -> dict[str, object]:
    """The customer conditions as a join (a plain join plans well where `IN (subquery)` over
    freshly loaded tables may not)."""
    conditions: dict[str, object] = {"customer__merged_into__isnull": True}
    if filters.tier_value is not None:
        conditions["customer__value_tier"] = filters.tier_value
    return conditions


def _conversation_touches(
    workspace: Workspace, filters: DashboardFilters, mapping: StageMap
) -> Iterable[Touch]:
    conversations = conversation_queryset(workspace=workspace, filters=filters).filter(
        customer__merged_into__isnull=True
    )
    rows = list(conversations.values_list("id", "customer_id"))
    tags: dict[int, list[str]] = defaultdict(list)
    for cid, name in Conversation.tags.through.objects.filter(
        conversation__in=conversations
    ).values_list("conversation_id", "tag__name"):
        tags[cid].append(name)
    intent: dict[int, str] = {}
    negative: set[int] = set()
    for cid, name, sentiment in (
        MessageTriage.objects.filter(
            workspace=workspace,
            message__conversation__in=conversations,
            message__kind=Message.Kind.INBOUND,
        )
        .order_by("message__created_at", "message_id")
        .values_list("message__conversation_id", "intent", "sentiment")
    ):
        if name and cid not in intent:
            intent[cid] = name
        if sentiment == NEGATIVE:
            negative.add(cid)
    # Few distinct (intent, tags) pairs: their causes and stages are worked out once each.
    known: dict[tuple[str | None, tuple[str, ...]], tuple[tuple[str, ...], list[str]]] = {}
    for cid, customer_id in rows:
        key = (intent.get(cid), tuple(tags[cid]))
        found = known.get(key)
        if found is None:
            causes = tuple(sorted({f"tag:{t}" for t in tags[cid]}))
            if cid in intent:
                causes = (f"intent:{intent[cid]}", *causes)
            stages = sorted(mapping.for_conversation(intent.get(cid, ""), tags[cid]))
            found = known[key] = (causes, stages)
        causes, stages = found
        for stage in stages:
            yield Touch(CONVERSATION, cid, customer_id, stage, cid in negative, causes)


def _answer_touches(
    workspace: Workspace, filters: DashboardFilters, mapping: StageMap
) -> Iterable[Touch]:
    start, end = filters.period.start, filters.period.end
    answers = Response.objects.filter(
        workspace=workspace,
        created_at__gte=start,
        created_at__lt=end,
        **_of_customers(filters),
    )
    themes = comment_theme_causes(workspace=workspace, answers=answers, filters=filters)
    for rid, customer_id, touchpoint, n, csat, ces, sentiment in answers.values_list(
        "id", "customer_id", "touchpoint", "nps_score", "csat_score", "ces_score", "sentiment"
    ):
        stage = mapping.for_touchpoint(touchpoint)
        if stage is None:
            continue
        poor = poor_reason(nps=n, csat=csat, ces=ces, sentiment=sentiment) is not None
        yield Touch(ANSWER, rid, customer_id, stage, poor, themes.get(rid, ()))


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


def _order_touches(workspace: Workspace, filters: DashboardFilters) -> Iterable[Touch]:
    start, end = filters.period.start, filters.period.end
    for oid, customer_id, status, delivered, promised in Order.objects.filter(
        workspace=workspace,
        placed_at__gte=start,
        placed_at__lt=end,
        **_of_customers(filters),
    ).values_list("id", "customer_id", "status", "delivered_at", "promised_at"):
        cancelled = status in (Order.Status.CANCELLED, Order.Status.REFUNDED)
        yield Touch(ORDER, oid, customer_id, BUY, cancelled, (f"order:{CANCELLED}",) * cancelled)
        if status in DELIVERY_STATUSES or delivered is not None:
            late = status == Order.Status.DELAYED or (
                delivered is not None and promised is not None and delivered > promised
            )
            returned = status == Order.Status.RETURNED
            causes = (f"order:{LATE_DELIVERY}",) * late + (f"order:{RETURNED}",) * returned
            yield Touch(ORDER, oid, customer_id, DELIVER, late or returned, causes)


def journey_touches(
    *, workspace: Workspace, filters: DashboardFilters, mapping: StageMap = DEFAULT_MAP
) -> list[Touch]:
    """Every touch of the period (see the module docstring), conversations first."""
    touches = list(_conversation_touches(workspace, filters, mapping))
    touches.extend(_answer_touches(workspace, filters, mapping))
    touches.extend(_order_touches(workspace, filters))
    return touches


# --- Effects -----------------------------------------------------------------------------------


def churn_risks(
    *, workspace: Workspace, customer_ids: set[int], period: Period
) -> dict[int, float]:
    """Churn risk on the period's last day of each customer with a purchase before its end:
    1 - exp(-days since the last order day / usual gap), the usual gap being the median days
    between the customer's order days (90 days with fewer than two), as in the
    recommendations' rhythm model."""
    days: dict[int, set[int]] = defaultdict(set)
    on, cut, zone = period.last_day, period.end, period.start.tzinfo
    ids = sorted(customer_ids)
    # In batches: a database caps the parameters of one statement (SQLite at 32,766).
    for first in range(0, len(ids), ID_BATCH):
        batch = ids[first : first + ID_BATCH]
        for customer_id, placed in (
            Order.objects.filter(workspace=workspace, customer_id__in=batch, placed_at__lt=cut)
            .exclude(status__in=NOT_PURCHASES)
            .values_list("customer_id", "placed_at")
        ):
            days[customer_id].add(placed.astimezone(zone).date().toordinal())
    risks = {}
    for customer_id, ordinals in days.items():
        ordered = sorted(ordinals)
        gaps = [b - a for a, b in itertools.pairwise(ordered)]
        gap = max(float(statistics.median(gaps)), 1.0) if gaps else DEFAULT_GAP_DAYS
        risks[customer_id] = churn_risk(float(on.toordinal() - ordered[-1]), gap)
    return risks


def _nps_score(scores: list[int]) -> float | None:
    return nps(scores).score if scores else None


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _nps_answers(workspace: Workspace, filters: DashboardFilters) -> list[tuple[int, int]]:
    start, end = filters.period.start, filters.period.end
    rows = Response.objects.filter(
        workspace=workspace,
        created_at__gte=start,
        created_at__lt=end,
        nps_score__isnull=False,
        **_of_customers(filters),
    ).values_list("customer_id", "nps_score")
    return [(c, s) for c, s in rows if s is not None]


def _split_nps(answers: list[tuple[int, int]], group: set[int]) -> tuple[float | None, ...]:
    inside = [s for c, s in answers if c in group]
    outside = [s for c, s in answers if c not in group]
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
    *, workspace: Workspace, filters: DashboardFilters, mapping: StageMap = DEFAULT_MAP
) -> Journey:
    """Stage figures and ranked pain points of the period (definitions in the module
    docstring and docs/metrics.md)."""
    touches = journey_touches(workspace=workspace, filters=filters, mapping=mapping)
    population = {t.customer_id for t in touches}
    unhappy = {t.customer_id for t in touches if t.negative}
    answers = _nps_answers(workspace, filters)
    risk = churn_risks(workspace=workspace, customer_ids=population, period=filters.period)

    by_stage: dict[str, list[Touch]] = defaultdict(list)
    for t in touches:
        by_stage[t.stage].append(t)
    stages = []
    for stage in STAGES:
        in_stage = by_stage[stage]
        touched = {t.customer_id for t in in_stage}
        negatives = sum(t.negative for t in in_stage)
        nps_in, nps_out, nps_effect = _split_nps(answers, touched)
        churn_in = _mean([r for c, r in risk.items() if c in touched])
        churn_out = _mean([r for c, r in risk.items() if c not in touched])
        stages.append(
            StageFigures(
                stage=stage,
                label=str(STAGE_LABELS[stage]),
                interactions=len(in_stage),
                customers=len(touched),
                negative=negatives,
                negative_share=negatives / len(in_stage) if in_stage else None,
                nps_touched=nps_in,
                nps_not_touched=nps_out,
                nps_effect=nps_effect,
                churn_touched=churn_in,
                churn_not_touched=churn_out,
                churn_effect=_difference(churn_in, churn_out),
            )
        )

    by_cause: dict[str, set[int]] = defaultdict(set)
    refs: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for t in touches:
        for cause in t.causes:
            by_cause[cause].add(t.customer_id)
            refs[cause].add((t.kind, t.ref_id))
    points = []
    for key, customers in by_cause.items():
        n = len(customers)
        bad = len(customers & unhappy)
        others = len(population) - n
        baseline = (len(unhappy) - bad) / others if others else None
        impact = _difference(bad / n, baseline)
        kind, _sep, name = key.partition(":")
        points.append(
            PainPoint(
                key=key,
                kind=kind,
                name=name,
                label=cause_label(key),
                interactions=len(refs[key]),
                customers=n,
                unhappy=bad,
                unhappy_share=bad / n,
                baseline_share=baseline,
                impact=impact,
                score=None if impact is None else n * impact,
                nps_effect=_split_nps(answers, customers)[2],
            )
        )
    points.sort(key=lambda p: (p.score is None, -(p.score or 0.0), -p.customers, p.key))
    return Journey(touches, stages, points, len(population), len(unhappy), risk)


# --- Drill-down --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drill:
    label: str
    customers: list[Customer]
    unhappy: set[int]
    conversations: list[Conversation]
    customer_count: int
    conversation_count: int


def journey_drill(
    *,
    workspace: Workspace,
    filters: DashboardFilters,
    stage: str = "",
    cause: str = "",
    mapping: StageMap = DEFAULT_MAP,
) -> Drill:
    """The customers and conversations behind one stage or one cause (at most DRILL_LIMIT of
    each, unhappy customers first). Raises ValidationFailed for an unknown stage or a cause
    that is not of the form kind:name."""
    if bool(stage) == bool(cause):
        raise ValidationFailed(
            _("Choose a stage or a cause."), field_errors={"stage": [_("Choose one.")]}
        )
    if stage and stage not in STAGES:
        raise ValidationFailed(_("Unknown stage."), field_errors={"stage": [_("Unknown stage.")]})
    kind, _sep, name = cause.partition(":")
    if cause and (kind not in CAUSE_KINDS or not name):
        raise ValidationFailed(_("Unknown cause."), field_errors={"cause": [_("Unknown cause.")]})
    touches = journey_touches(workspace=workspace, filters=filters, mapping=mapping)
    chosen = [t for t in touches if (t.stage == stage if stage else cause in t.causes)]
    customer_ids = {t.customer_id for t in chosen}
    unhappy = {t.customer_id for t in touches if t.negative} & customer_ids
    conversation_ids = {t.ref_id for t in chosen if t.kind == CONVERSATION}
    shown = sorted(customer_ids, key=lambda pk: (pk not in unhappy, pk))[:DRILL_LIMIT]
    by_pk = Customer.objects.filter(workspace=workspace, pk__in=shown).in_bulk()
    customers = [by_pk[pk] for pk in shown if pk in by_pk]
    latest = sorted(conversation_ids, reverse=True)[:DRILL_LIMIT]
    conversations = list(
        Conversation.objects.filter(workspace=workspace, pk__in=latest)
        .select_related("customer")
        .order_by("-id")
    )
    label = str(STAGE_LABELS[stage]) if stage else cause_label(cause)
    return Drill(label, customers, unhappy, conversations, len(customer_ids), len(conversation_ids))
