"""The set-based journey (one SQL statement) agrees with the definition computed touch by touch
in Python (the journey's first implementation, kept here as the reference) on random
workspaces: conversations with several triaged messages, tags, orders in every state, survey
answers of every kind, value tiers, merged customers, a time zone with a day boundary that is
not UTC's, and workspace mappings."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from collections import defaultdict
from typing import Any, NamedTuple

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.analytics.dashboards.conversations import conversation_queryset
from ascolto.analytics.dashboards.filters import DashboardFilters, parse_filters
from ascolto.analytics.journey import selectors
from ascolto.analytics.journey.stages import (
    BUY,
    DEFAULT_MAP,
    DELIVER,
    STAGES,
    StageMap,
)
from ascolto.assistant.models import MessageTriage
from ascolto.customers.models import Customer, Order
from ascolto.inbox.models import Conversation, Message, Tag
from ascolto.recommendations.selectors import DEFAULT_GAP_DAYS, churn_risk
from ascolto.surveys.metrics import nps
from ascolto.surveys.models import Response
from ascolto.surveys.services import poor_reason
from tests.analytics.test_journey import answer
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.inbox.factories import InboxFactory

ZONE = "America/New_York"  # the period's days start at 05:00 UTC
PERIOD = {"from": "2026-03-02", "to": "2026-03-08"}
DELIVERY = ("shipped", "delayed", "delivered", "returned")
NOT_PURCHASES = ("cancelled", "refunded", "returned")

# --- The reference: every touch built in Python -----------------------------------------------


class Touch(NamedTuple):
    kind: str
    ref_id: int
    customer_id: int
    stage: str
    negative: bool
    causes: tuple[str, ...] = ()


def _customers(filters: DashboardFilters) -> dict[str, Any]:
    conditions: dict[str, Any] = {"customer__merged_into__isnull": True}
    if filters.tier_value is not None:
        conditions["customer__value_tier"] = filters.tier_value
    return conditions


def reference_touches(workspace: Any, filters: DashboardFilters, mapping: StageMap) -> list[Touch]:
    touches = []
    conversations = conversation_queryset(workspace=workspace, filters=filters).filter(
        customer__merged_into__isnull=True
    )
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
        if sentiment == "negative":
            negative.add(cid)
    for cid, customer_id in conversations.values_list("id", "customer_id"):
        causes = tuple(sorted({f"tag:{t}" for t in tags[cid]}))
        if cid in intent:
            causes = (f"intent:{intent[cid]}", *causes)
        for stage in sorted(mapping.for_conversation(intent.get(cid, ""), tags[cid])):
            touches.append(Touch("conversation", cid, customer_id, stage, cid in negative, causes))
    start, end = filters.period.start, filters.period.end
    answers = Response.objects.filter(
        workspace=workspace, created_at__gte=start, created_at__lt=end, **_customers(filters)
    )
    for rid, customer_id, touchpoint, n, csat, ces, sentiment in answers.values_list(
        "id", "customer_id", "touchpoint", "nps_score", "csat_score", "ces_score", "sentiment"
    ):
        stage = mapping.for_touchpoint(touchpoint)
        if stage is not None:
            poor = poor_reason(nps=n, csat=csat, ces=ces, sentiment=sentiment) is not None
            touches.append(Touch("answer", rid, customer_id, stage, poor))
    for oid, customer_id, status, delivered, promised in Order.objects.filter(
        workspace=workspace, placed_at__gte=start, placed_at__lt=end, **_customers(filters)
    ).values_list("id", "customer_id", "status", "delivered_at", "promised_at"):
        cancelled = status in ("cancelled", "refunded")
        touches.append(
            Touch("order", oid, customer_id, BUY, cancelled, ("order:cancelled",) * cancelled)
        )
        if status in DELIVERY or delivered is not None:
            late = status == "delayed" or (
                delivered is not None and promised is not None and delivered > promised
            )
            returned = status == "returned"
            causes = ("order:late_delivery",) * late + ("order:returned",) * returned
            touches.append(Touch("order", oid, customer_id, DELIVER, late or returned, causes))
    return touches


def reference_risks(workspace: Any, customer_ids: set[int], filters: DashboardFilters) -> dict:
    days: dict[int, set[int]] = defaultdict(set)
    period = filters.period
    zone = period.start.tzinfo
    for customer_id, placed in (
        Order.objects.filter(
            workspace=workspace, customer_id__in=customer_ids, placed_at__lt=period.end
        )
        .exclude(status__in=NOT_PURCHASES)
        .values_list("customer_id", "placed_at")
    ):
        days[customer_id].add(placed.astimezone(zone).date().toordinal())
    risks = {}
    for customer_id, ordinals in days.items():
        ordered = sorted(ordinals)
        gaps = [b - a for a, b in itertools.pairwise(ordered)]
        gap = max(float(statistics.median(gaps)), 1.0) if gaps else DEFAULT_GAP_DAYS
        risks[customer_id] = churn_risk(float(period.last_day.toordinal() - ordered[-1]), gap)
    return risks


def _nps(scores: list[int]) -> float | None:
    return nps(scores).score if scores else None


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def reference_journey(workspace: Any, filters: DashboardFilters, mapping: StageMap) -> dict:
    """Stage figures and pain points as plain dicts, computed from the touches."""
    touches = reference_touches(workspace, filters, mapping)
    population = {t.customer_id for t in touches}
    unhappy = {t.customer_id for t in touches if t.negative}
    start, end = filters.period.start, filters.period.end
    answers = [
        (c, s)
        for c, s in Response.objects.filter(
            workspace=workspace,
            created_at__gte=start,
            created_at__lt=end,
            nps_score__isnull=False,
            **_customers(filters),
        ).values_list("customer_id", "nps_score")
    ]
    risk = reference_risks(workspace, population, filters)

    def split(group: set[int]) -> tuple[float | None, ...]:
        inside = _nps([s for c, s in answers if c in group])
        outside = _nps([s for c, s in answers if c not in group])
        return inside, outside, _minus(inside, outside)

    stages = []
    for stage in STAGES:
        in_stage = [t for t in touches if t.stage == stage]
        touched = {t.customer_id for t in in_stage}
        negatives = sum(t.negative for t in in_stage)
        churn_in = _mean([r for c, r in risk.items() if c in touched])
        churn_out = _mean([r for c, r in risk.items() if c not in touched])
        nps_in, nps_out, nps_effect = split(touched)
        stages.append(
            {
                "stage": stage,
                "interactions": len(in_stage),
                "customers": len(touched),
                "negative": negatives,
                "negative_share": negatives / len(in_stage) if in_stage else None,
                "nps_touched": nps_in,
                "nps_not_touched": nps_out,
                "nps_effect": nps_effect,
                "churn_touched": churn_in,
                "churn_not_touched": churn_out,
                "churn_effect": _minus(churn_in, churn_out),
            }
        )
    by_cause: dict[str, set[int]] = defaultdict(set)
    refs: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for t in touches:
        for cause in t.causes:
            by_cause[cause].add(t.customer_id)
            refs[cause].add((t.kind, t.ref_id))
    points = []
    for key, customers in by_cause.items():
        n, bad = len(customers), len(customers & unhappy)
        others = len(population) - n
        baseline = (len(unhappy) - bad) / others if others else None
        impact = _minus(bad / n, baseline)
        points.append(
            {
                "key": key,
                "interactions": len(refs[key]),
                "customers": n,
                "unhappy": bad,
                "unhappy_share": bad / n,
                "baseline_share": baseline,
                "impact": impact,
                "score": None if impact is None else n * impact,
                "nps_effect": split(customers)[2],
            }
        )
    points.sort(key=lambda p: (p["score"] is None, -(p["score"] or 0.0), -p["customers"], p["key"]))
    drill = {}
    for key in by_cause:
        chosen = [t for t in touches if key in t.causes]
        drill[key] = _reference_drill(chosen, unhappy)
    for stage in STAGES:
        drill[f"stage:{stage}"] = _reference_drill(
            [t for t in touches if t.stage == stage], unhappy
        )
    return {
        "customers": len(population),
        "unhappy": len(unhappy),
        "stages": stages,
        "pain_points": points,
        "drill": drill,
    }


def _reference_drill(chosen: list[Touch], unhappy: set[int]) -> dict:
    customer_ids = {t.customer_id for t in chosen}
    conversation_ids = {t.ref_id for t in chosen if t.kind == "conversation"}
    bad = unhappy & customer_ids
    return {
        "customers": sorted(customer_ids, key=lambda pk: (pk not in bad, pk))[:3],
        "unhappy": len(bad),
        "customer_count": len(customer_ids),
        "conversations": sorted(conversation_ids, reverse=True)[:3],
        "conversation_count": len(conversation_ids),
    }


# --- Random workspaces --------------------------------------------------------------------------

INTENTS = ["", "where_is_my_parcel", "invoice_copy", "Product_Broken", "hello", "pre-sale"]
TAGS = ["late", "billing", "vip", "bug", "zeta_setup", "Alpha Refund"]
SENTIMENTS = ["", "negative", "neutral", "positive"]
STATUSES = [
    "pending",
    "paid",
    "shipped",
    "delayed",
    "delivered",
    "cancelled",
    "returned",
    "refunded",
]
TOUCHPOINTS = ["website", "billing", "delivery", "product", "support", "other"]
TIERS = ["", "gold", "silver"]

hours = st.integers(0, 24 * 12)  # from 2026-02-28 00:00 UTC, over the period's edges
messages = st.lists(
    st.tuples(
        st.sampled_from(INTENTS), st.sampled_from(SENTIMENTS), st.integers(0, 3), st.booleans()
    ),
    max_size=3,
)  # intent, sentiment, minutes after the start, inbound
conversations = st.lists(
    st.tuples(
        st.integers(0, 5), hours, messages, st.lists(st.sampled_from(TAGS), max_size=3, unique=True)
    ),
    max_size=7,
)
orders = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.integers(-24 * 60, 24 * 12),  # hours; up to two months before the period
        st.sampled_from(STATUSES),
        st.one_of(st.none(), st.integers(-3, 3)),  # delivered, days after the promise
        st.booleans(),  # promised at all
    ),
    max_size=10,
)
answers = st.lists(
    st.tuples(
        st.integers(0, 5),
        hours,
        st.sampled_from(TOUCHPOINTS),
        st.one_of(st.none(), st.integers(0, 10)),
        st.one_of(st.none(), st.integers(1, 5)),
        st.one_of(st.none(), st.integers(1, 7)),
        st.sampled_from(SENTIMENTS),
    ),
    max_size=6,
)
mappings = st.sampled_from(
    [
        DEFAULT_MAP,
        StageMap(
            touchpoints={**DEFAULT_MAP.touchpoints, "website": "use", "other": "support"},
            keywords={**DEFAULT_MAP.keywords, "deliver": (), "support": ("hello",)},
        ),
        StageMap(touchpoints={}, keywords={"use": ("a",), "buy": ("late", "i")}),
    ]
)


def build(workspace: Any, people, convs, order_rows, answer_rows) -> None:
    start = dt.datetime(2026, 2, 28, tzinfo=dt.UTC)
    inbox = InboxFactory(workspace=workspace, channel="email")
    tags = {name: Tag.objects.get_or_create(workspace=workspace, name=name)[0] for name in TAGS}
    for who, hour, msgs, tag_names in convs:
        at = start + dt.timedelta(hours=hour)
        c = Conversation.objects.create(
            workspace=workspace, inbox=inbox, channel="email", customer=people[who],
            first_customer_message_at=at,
        )  # fmt: skip
        c.tags.set([tags[name] for name in tag_names])
        for n, (intent, sentiment, minutes, inbound) in enumerate(msgs):
            m = Message.objects.create(
                workspace=workspace, conversation=c, inbox=inbox,
                kind="inbound" if inbound else "outbound", text=f"m{n}",
            )  # fmt: skip
            Message.objects.filter(pk=m.pk).update(created_at=at + dt.timedelta(minutes=minutes))
            MessageTriage.objects.create(
                workspace=workspace, message=m, intent=intent, sentiment=sentiment
            )
    for who, hour, status, delivered, promised in order_rows:
        placed = start + dt.timedelta(hours=hour)
        promise = placed + dt.timedelta(days=2) if promised else None
        OrderFactory(
            customer=people[who], placed_at=placed, status=status, promised_at=promise,
            delivered_at=None if delivered is None
            else placed + dt.timedelta(days=2 + delivered),
        )  # fmt: skip
    for n, (who, hour, touchpoint, score, csat, ces, sentiment) in enumerate(answer_rows):
        r = answer(
            workspace, people[who], nps=0, touchpoint=touchpoint,
            when=start + dt.timedelta(hours=hour), n=n,
        )  # fmt: skip
        Response.objects.filter(pk=r.pk).update(
            nps_score=score, csat_score=csat, ces_score=ces, sentiment=sentiment
        )


def close(got: Any, want: dict) -> None:
    for key, value in want.items():
        actual = getattr(got, key)
        if isinstance(value, float) and actual is not None:
            assert math.isclose(actual, value, rel_tol=1e-9, abs_tol=1e-9), (key, actual, value)
        else:
            assert actual == value, (key, actual, value)


def same(figures: selectors.Journey, expected: dict) -> None:
    assert (figures.customers, figures.unhappy) == (expected["customers"], expected["unhappy"])
    for got, want in zip(figures.stages, expected["stages"], strict=True):
        close(got, want)
    assert [p.key for p in figures.pain_points] == [p["key"] for p in expected["pain_points"]]
    for got, want in zip(figures.pain_points, expected["pain_points"], strict=True):
        close(got, want)
    assert figures.drill is not None
    for key, want in expected["drill"].items():
        page = figures.drill.get(key)
        if page is None:  # a stage nobody touched
            assert want["customer_count"] == 0, key
            continue
        got = {
            "customers": [pk for pk, _bad in page.customers][:3],
            "unhappy": page.unhappy_count,
            "customer_count": page.customer_count,
            "conversations": page.conversations[:3],
            "conversation_count": page.conversation_count,
        }
        assert got == want, key


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    convs=conversations,
    order_rows=orders,
    answer_rows=answers,
    tiers=st.lists(st.sampled_from(TIERS), min_size=6, max_size=6),
    merged=st.booleans(),
    tier=st.sampled_from(["", "gold"]),
    mapping=mappings,
)
def test_the_statement_agrees_with_the_touch_by_touch_definition(
    workspace, convs, order_rows, answer_rows, tiers, merged, tier, mapping
):
    with transaction.atomic():  # each example's rows are rolled back, even when it fails
        workspace.timezone = ZONE
        workspace.save()
        people = [CustomerFactory(workspace=workspace, value_tier=t) for t in tiers]
        if merged:
            Customer.objects.filter(pk=people[5].pk).update(merged_into=people[0])
        build(workspace, people, convs, order_rows, answer_rows)
        filters = parse_filters({**PERIOD, "tier": tier}, workspace=workspace)

        figures = selectors.journey(
            workspace=workspace, filters=filters, mapping=mapping, drill=True
        )

        same(figures, reference_journey(workspace, filters, mapping))
        transaction.set_rollback(True)
