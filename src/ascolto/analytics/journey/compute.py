# ruff: noqa: S608  -- table names come from model meta and numbers are written with int(); values always go through parameters.
"""The journey's figures computed set-based: one SQL statement groups the period's touches by
stage, customer and cause and returns small rows (a handful per stage and per cause, and with
`drill=True` the first page of customers and conversations behind each), so memory does not
grow with the number of conversations.

The touches, customers and causes are those of `selectors` (module docstring there and
docs/metrics.md, Journey); the statement follows them step by step:

- `conv`, `tri`, `cf`: the period's conversations (the dashboards' `conversation_queryset`),
  each with its first non-empty intent (inbound triaged messages in time order), whether any
  of them is negative, and its mapped stage: the intent's, else the first tag's in name order
  (`tagmap` holds each mapped tag's rank in name order and stage, worked out in Python);
- `ans`, `ord`: the period's survey answers with a mapped touchpoint (poor or not) and orders;
- `touch`: the touches counted per customer, stage and negative flag; `cust`: one row per
  customer of the period (unhappy, stages touched);
- `npsc`: NPS counts per customer over the period's NPS answers; `risk`: churn risk per
  customer with a purchase (median gap between order days from window functions);
- `istage`: each distinct first intent, numbered, with its stage;
- `cref`/`cc`: one row per (cause, interaction) and per (cause, customer).

Works on PostgreSQL and SQLite (window functions; the day of an order in the workspace's time
zone through Django's date cast). Keyword matching lower-cases the intent in SQL: on SQLite
LOWER() only folds ASCII letters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate

from ascolto.analytics.dashboards.conversations import conversation_queryset
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.journey.stages import BUY, DELIVER, STAGES, SUPPORT, StageMap
from ascolto.assistant.models import MessageTriage
from ascolto.core.models import Workspace
from ascolto.customers.models import Order
from ascolto.inbox.models import Conversation, Message, Tag
from ascolto.recommendations.selectors import DEFAULT_GAP_DAYS
from ascolto.surveys.metrics import DETRACTOR_MAX, PROMOTER_MIN
from ascolto.surveys.models import Response
from ascolto.surveys.services.followups import (
    CES_POOR_EFFORT_AT_LEAST,
    CSAT_POOR_AT_MOST,
    NPS_POOR_AT_MOST,
    ces_effort,
)

NEGATIVE = "negative"
DELIVERY_STATUSES = (
    Order.Status.SHIPPED,
    Order.Status.DELAYED,
    Order.Status.DELIVERED,
    Order.Status.RETURNED,
)
NOT_PURCHASES = (Order.Status.CANCELLED, Order.Status.REFUNDED, Order.Status.RETURNED)
LATE_DELIVERY, RETURNED, CANCELLED = "late_delivery", "returned", "cancelled"
ORDER_CAUSES = (CANCELLED, LATE_DELIVERY, RETURNED)  # the order cause's number in the statement
# A CES answer is poor when its effort (ces_effort) is high: the answers at most this score.
CES_POOR_AT_MOST = max(s for s in range(1, 8) if ces_effort(s) >= CES_POOR_EFFORT_AT_LEAST)
UNKNOWN_STAGE = len(STAGES)  # a mapping may name a stage the page does not show
RANK_STEP = 8  # tag code = rank in name order x RANK_STEP + stage number
# Memory per sort or hash of the statement (one worker computes it at a time per snapshot).
WORK_MEM = "64MB"


def stage_number(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else UNKNOWN_STAGE


SUPPORT_N, BUY_N, DELIVER_N = stage_number(SUPPORT), stage_number(BUY), stage_number(DELIVER)


@dataclass
class StageSums:
    interactions: int = 0
    negative: int = 0
    customers: int = 0
    nps_in: tuple[int, int, int] = (0, 0, 0)  # promoters, passives, detractors
    risk_in: tuple[float, int] = (0.0, 0)  # sum, count
    risk_out: tuple[float, int] = (0.0, 0)


@dataclass
class CauseSums:
    interactions: int
    customers: int
    unhappy: int
    nps_in: tuple[int, int, int]


@dataclass
class DrillPage:
    """The first page behind a stage or a cause: customers unhappy first then by id, with their
    unhappy flag; conversations newest first (by id)."""

    customers: list[tuple[int, bool]] = field(default_factory=list)
    conversations: list[int] = field(default_factory=list)
    customer_count: int = 0
    conversation_count: int = 0
    unhappy_count: int = 0


@dataclass
class Sums:
    """What the statement returns, before the figures are derived (`selectors.journey`)."""

    customers: int
    unhappy: int
    nps_all: tuple[int, int, int]
    stages: dict[str, StageSums]
    causes: dict[str, CauseSums]
    drill: dict[str, DrillPage]  # "stage:<stage>" or a cause key


def _sql(queryset: QuerySet[Any]) -> tuple[str, list[Any]]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def _values(rows: Sequence[tuple[int, int]]) -> str:
    """A VALUES list of integer pairs (ints only, written inline), or an empty relation."""
    if not rows:
        return "SELECT 0, 0 WHERE 1 = 0"
    return "VALUES " + ", ".join(f"({int(a)}, {int(b)})" for a, b in rows)


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _intent_stage(mapping: StageMap) -> tuple[str, list[Any]]:
    """CASE giving the stage number of `d.intent` (first stage in STAGES order whose keyword
    is a substring of the lower-case intent), NULL when none matches."""
    branches: list[str] = []
    params: list[Any] = []
    for stage in STAGES:
        words = mapping.keywords.get(stage, ())
        if not words:
            continue
        test = " OR ".join("LOWER(d.intent) LIKE %s ESCAPE '\\'" for _ in words)
        branches.append(f"WHEN {test} THEN {stage_number(stage)}")
        params.extend(_like(w.lower()) for w in words)
    if not branches:
        return "CAST(NULL AS INTEGER)", []
    return "CASE " + " ".join(branches) + " END", params


def _tag_codes(workspace: Workspace, mapping: StageMap) -> list[tuple[int, int]]:
    """(tag id, rank of its name in name order x RANK_STEP + its stage) for each mapped tag."""
    tags = sorted(Tag.objects.filter(workspace=workspace).values_list("name", "id"))
    codes = []
    for rank, (name, tag_id) in enumerate(tags):
        stage = mapping.for_name(name)
        if stage is not None:
            codes.append((tag_id, rank * RANK_STEP + stage_number(stage)))
    return codes


def _day_number(expression: str) -> str:
    """A day count of a date (only differences are used)."""
    if connection.vendor == "postgresql":
        return f"(CAST({expression} AS DATE) - DATE '2000-01-01')"
    return f"CAST(julianday({expression}) AS INTEGER)"


def _customer_conditions(filters: DashboardFilters) -> dict[str, object]:
    conditions: dict[str, object] = {"customer__merged_into__isnull": True}
    if filters.tier_value is not None:
        conditions["customer__value_tier"] = filters.tier_value
    return conditions


def period_answers(workspace: Workspace, filters: DashboardFilters) -> QuerySet[Response]:
    start, end = filters.period.start, filters.period.end
    return Response.objects.filter(
        workspace=workspace,
        created_at__gte=start,
        created_at__lt=end,
        **_customer_conditions(filters),
    )


def _answer_touches(answers: QuerySet[Response], mapping: StageMap) -> QuerySet[Any, Any]:
    """id, customer, stage number and poor flag (the closed loop's `poor_reason` rule) of the
    answers whose touchpoint is mapped."""
    whens = [
        When(touchpoint=touchpoint, then=Value(stage_number(stage)))
        for touchpoint, stage in sorted(mapping.touchpoints.items())
    ]
    poor = (
        Q(nps_score__lte=NPS_POOR_AT_MOST)
        | Q(csat_score__lte=CSAT_POOR_AT_MOST)
        | Q(ces_score__lte=CES_POOR_AT_MOST)
        | Q(sentiment=NEGATIVE)
    )
    return (
        answers.annotate(
            j_stage=Case(*whens, default=None, output_field=IntegerField()),
            j_poor=Case(When(poor, then=Value(1)), default=Value(0)),
        )
        .filter(j_stage__isnull=False)
        .values("id", "customer_id", "j_stage", "j_poor")
    )


def _orders(workspace: Workspace, filters: DashboardFilters) -> QuerySet[Any, Any]:
    start, end = filters.period.start, filters.period.end
    late = Q(status=Order.Status.DELAYED) | Q(
        delivered_at__isnull=False, promised_at__isnull=False, delivered_at__gt=F("promised_at")
    )

    def flag(condition: Q) -> Case:
        return Case(When(condition, then=Value(1)), default=Value(0))

    return (
        Order.objects.filter(
            workspace=workspace,
            placed_at__gte=start,
            placed_at__lt=end,
            **_customer_conditions(filters),
        )
        .annotate(
            j_cancelled=flag(Q(status__in=(Order.Status.CANCELLED, Order.Status.REFUNDED))),
            j_delivery=flag(Q(status__in=DELIVERY_STATUSES) | Q(delivered_at__isnull=False)),
            j_late=flag(late),
            j_returned=flag(Q(status=Order.Status.RETURNED)),
        )
        .values("id", "customer_id", "j_cancelled", "j_delivery", "j_late", "j_returned")
    )


def _order_days(workspace: Workspace, filters: DashboardFilters) -> QuerySet[Any, Any]:
    """The customer and day (in the period's time zone) of every purchase before the period's
    end: the churn risk's order rhythm."""
    return (
        Order.objects.filter(workspace=workspace, placed_at__lt=filters.period.end)
        .exclude(status__in=NOT_PURCHASES)
        .annotate(j_day=TruncDate("placed_at", tzinfo=filters.period.start.tzinfo))
        .values("customer_id", "j_day")
    )


def _number(expression: str) -> str:
    return f"CAST({expression} AS DOUBLE PRECISION)"


def _row(part: str, kind: str, name: str, k: str, *values: str) -> str:
    """One output row shape: part, kind, name, k and NUMBERS numeric columns."""
    padded = [_number(v) for v in values] + [_number("NULL")] * (NUMBERS - len(values))
    return f"SELECT '{part}', {kind}, {name}, {k}, " + ", ".join(padded)


NUMBERS = 9
# The statement numbers the kinds of cause (1 intent, 2 tag, 3 order, 4 comment theme); the
# output names them by letter.
KIND_TEXT = "CASE {kind} WHEN 1 THEN 'i' WHEN 2 THEN 't' WHEN 3 THEN 'o' ELSE 'h' END"
STAGE_FLAGS = ", ".join(f"s{n}" for n in range(len(STAGES)))


@dataclass
class _Statement:
    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, params: Iterable[Any] = ()) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    def add_query(self, template: str, queryset: QuerySet[Any]) -> None:
        sql, params = _sql(queryset)
        self.add(template.format(sql=sql), params)


def _statement(
    *,
    workspace: Workspace,
    filters: DashboardFilters,
    mapping: StageMap,
    tag_codes: list[tuple[int, int]],
    themes: list[tuple[int, int]],
    drill: int,
) -> _Statement:
    triage, message = MessageTriage._meta.db_table, Message._meta.db_table
    through = Conversation.tags.through._meta.db_table
    conversations = (
        conversation_queryset(workspace=workspace, filters=filters)
        .filter(customer__merged_into__isnull=True)
        .values("id", "customer_id")
    )
    answers = period_answers(workspace, filters)
    st = _Statement()
    st.add_query("WITH conv(id, customer_id) AS ({sql}),", conversations)
    st.add(
        f"""
tri(cid, intent, sentiment, created_at, mid) AS (
  SELECT m.conversation_id, t.intent, t.sentiment, m.created_at, m.id
  FROM {triage} t JOIN {message} m ON m.id = t.message_id
  WHERE t.workspace_id = %s AND m.kind = %s AND m.conversation_id IN (SELECT id FROM conv)
),
fi(cid, intent) AS (
  SELECT cid, intent FROM (
    SELECT cid, intent, ROW_NUMBER() OVER (PARTITION BY cid ORDER BY created_at, mid) AS rn
    FROM tri WHERE intent <> ''
  ) AS x WHERE rn = 1
),
ng(cid) AS (SELECT DISTINCT cid FROM tri WHERE sentiment = %s),
tagmap(tag_id, code) AS ({_values(tag_codes)}),
ts(cid, code) AS (
  SELECT ct.conversation_id, MIN(tm.code)
  FROM {through} ct JOIN tagmap tm ON tm.tag_id = ct.tag_id
  WHERE ct.conversation_id IN (SELECT id FROM conv)
  GROUP BY ct.conversation_id
),""",
        [workspace.pk, Message.Kind.INBOUND, NEGATIVE],
    )
    intent_stage, intent_params = _intent_stage(mapping)
    st.add(
        f"""
istage(intent, stage, num) AS (
  SELECT d.intent, {intent_stage}, ROW_NUMBER() OVER (ORDER BY d.intent)
  FROM (SELECT DISTINCT intent FROM fi) AS d
),
cf(id, customer_id, inum, negative, stage) AS (
  SELECT conv.id, conv.customer_id, istage.num, CASE WHEN ng.cid IS NULL THEN 0 ELSE 1 END,
         COALESCE(istage.stage, ts.code %% {RANK_STEP})
  FROM conv LEFT JOIN fi ON fi.cid = conv.id LEFT JOIN istage ON istage.intent = fi.intent
  LEFT JOIN ng ON ng.cid = conv.id LEFT JOIN ts ON ts.cid = conv.id
),""",
        intent_params,
    )
    st.add_query(
        "\nans(id, customer_id, stage, negative) AS ({sql}),", _answer_touches(answers, mapping)
    )
    st.add_query(
        "\nord(id, customer_id, cancelled, delivery, late, returned) AS ({sql}),",
        _orders(workspace, filters),
    )
    flags = ", ".join(f"MAX(CASE WHEN stage = {n} THEN 1 ELSE 0 END)" for n in range(len(STAGES)))
    st.add(
        f"""
touch(customer_id, stage, negative, n) AS (
  SELECT customer_id, {SUPPORT_N}, negative, COUNT(*) FROM cf GROUP BY customer_id, negative
  UNION ALL SELECT customer_id, stage, negative, COUNT(*) FROM cf
    WHERE stage IS NOT NULL AND stage <> {SUPPORT_N} GROUP BY customer_id, stage, negative
  UNION ALL SELECT customer_id, CAST(stage AS INTEGER), negative, COUNT(*) FROM ans
    GROUP BY customer_id, stage, negative
  UNION ALL SELECT customer_id, {BUY_N}, cancelled, COUNT(*) FROM ord
    GROUP BY customer_id, cancelled
  UNION ALL SELECT customer_id, {DELIVER_N}, CASE WHEN late = 1 OR returned = 1 THEN 1 ELSE 0 END,
    COUNT(*) FROM ord WHERE delivery = 1
    GROUP BY customer_id, CASE WHEN late = 1 OR returned = 1 THEN 1 ELSE 0 END
),
cust(customer_id, unhappy, {STAGE_FLAGS}) AS (
  SELECT customer_id, MAX(negative), {flags} FROM touch GROUP BY customer_id
),"""
    )
    st.add_query(
        "\nnpsa(customer_id, score) AS ({sql}),",
        answers.filter(nps_score__isnull=False).values("customer_id", "nps_score"),
    )
    st.add(
        f"""
npsc(customer_id, p, pa, d) AS (
  SELECT customer_id, SUM(CASE WHEN score >= {PROMOTER_MIN} THEN 1 ELSE 0 END),
         SUM(CASE WHEN score > {DETRACTOR_MAX} AND score < {PROMOTER_MIN} THEN 1 ELSE 0 END),
         SUM(CASE WHEN score <= {DETRACTOR_MAX} THEN 1 ELSE 0 END)
  FROM npsa GROUP BY customer_id
),"""
    )
    st.add_query("\norders_days(customer_id, day) AS ({sql}),", _order_days(workspace, filters))
    st.add(
        f"""
od(customer_id, d) AS (
  SELECT DISTINCT customer_id, {_day_number("day")} FROM orders_days
  WHERE customer_id IN (SELECT customer_id FROM cust)
),
lastd(customer_id, d) AS (SELECT customer_id, MAX(d) FROM od GROUP BY customer_id),
gap(customer_id, g) AS (
  SELECT customer_id, d - LAG(d) OVER (PARTITION BY customer_id ORDER BY d) FROM od
),
gr(customer_id, g, rn, n) AS (
  SELECT customer_id, g, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY g),
         COUNT(*) OVER (PARTITION BY customer_id)
  FROM gap WHERE g IS NOT NULL
),
med(customer_id, m) AS (
  SELECT customer_id, AVG({_number("g")}) FROM gr
  WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2 GROUP BY customer_id
),
risk(customer_id, r) AS (
  SELECT lastd.customer_id,
         1.0 - EXP(-{_number(_day_number("%s") + " - lastd.d")}
                   / CASE WHEN med.m IS NULL THEN {float(DEFAULT_GAP_DAYS)!r}
                          WHEN med.m < 1.0 THEN 1.0 ELSE med.m END)
  FROM lastd LEFT JOIN med ON med.customer_id = lastd.customer_id
),
stages(k) AS (VALUES {", ".join(f"({n})" for n in range(len(STAGES)))}),
theme(rid, k) AS ({_values(themes)}),
cref(kind, k, ref, customer_id) AS (
  SELECT 1, inum, id, customer_id FROM cf WHERE inum IS NOT NULL
  UNION ALL SELECT 2, ct.tag_id, ct.conversation_id, cf.customer_id
    FROM {through} ct JOIN cf ON cf.id = ct.conversation_id
  UNION ALL SELECT 3, 0, id, customer_id FROM ord WHERE cancelled = 1
  UNION ALL SELECT 3, 1, id, customer_id FROM ord WHERE late = 1
  UNION ALL SELECT 3, 2, id, customer_id FROM ord WHERE returned = 1
  UNION ALL SELECT 4, theme.k, ans.id, ans.customer_id
    FROM ans JOIN theme ON theme.rid = ans.id
),
cc(kind, k, customer_id, refs, unhappy) AS (
  SELECT cref.kind, cref.k, cref.customer_id, COUNT(*), MAX(cust.unhappy)
  FROM cref JOIN cust ON cust.customer_id = cref.customer_id
  GROUP BY cref.kind, cref.k, cref.customer_id
),
byst(k, inside, unhappy, p, pa, d, r) AS (
  SELECT stages.k, CASE stages.k {" ".join(f"WHEN {n} THEN s{n}" for n in range(len(STAGES)))} END,
         cust.unhappy, COALESCE(npsc.p, 0), COALESCE(npsc.pa, 0), COALESCE(npsc.d, 0), risk.r
  FROM cust CROSS JOIN stages
  LEFT JOIN npsc ON npsc.customer_id = cust.customer_id
  LEFT JOIN risk ON risk.customer_id = cust.customer_id
)
""",
        [filters.period.last_day.isoformat()],
    )
    rows = [
        _row("touch", "''", "''", "stage", "SUM(n)", "SUM(n * negative)")
        + " FROM touch GROUP BY stage",
        _row(
            "stage", "''", "''", "k",
            "SUM(inside)", "SUM(inside * p)", "SUM(inside * pa)", "SUM(inside * d)",
            "SUM(CASE WHEN inside = 1 THEN r END)", "COUNT(CASE WHEN inside = 1 THEN r END)",
            "SUM(CASE WHEN inside = 0 THEN r END)", "COUNT(CASE WHEN inside = 0 THEN r END)",
            "SUM(inside * unhappy)",
        )
        + " FROM byst GROUP BY k",
        _row(
            "total", "''", "''", "0", "COUNT(*)", "SUM(unhappy)",
            "(SELECT SUM(p) FROM npsc)", "(SELECT SUM(pa) FROM npsc)", "(SELECT SUM(d) FROM npsc)",
        )
        + " FROM cust",
        _row(
            "cause", KIND_TEXT.format(kind="cc.kind"), "''", "cc.k",
            "SUM(cc.refs)", "COUNT(*)", "SUM(cc.unhappy)",
            "SUM(COALESCE(npsc.p, 0))", "SUM(COALESCE(npsc.pa, 0))", "SUM(COALESCE(npsc.d, 0))",
        )
        + " FROM cc LEFT JOIN npsc ON npsc.customer_id = cc.customer_id"
        " GROUP BY cc.kind, cc.k",
        _row("intent", "''", "intent", "num") + " FROM istage",
    ]  # fmt: skip
    if drill:
        rows += [
            _row("ccust", KIND_TEXT.format(kind="kind"), "''", "k", "customer_id", "unhappy")
            + " FROM (SELECT kind, k, customer_id, unhappy, ROW_NUMBER() OVER ("
            "PARTITION BY kind, k ORDER BY unhappy DESC, customer_id) AS rn FROM cc) AS x"
            f" WHERE rn <= {int(drill)}",
            _row("cconv", KIND_TEXT.format(kind="kind"), "''", "k", "ref")
            + " FROM (SELECT kind, k, ref, ROW_NUMBER() OVER ("
            "PARTITION BY kind, k ORDER BY ref DESC) AS rn FROM cref"
            " WHERE kind IN (1, 2)) AS x"
            f" WHERE rn <= {int(drill)}",
            _row("sconvn", "''", "''", str(SUPPORT_N), "COUNT(*)") + " FROM cf",
            _row("sconvn", "''", "''", "stage", "COUNT(*)")
            + f" FROM cf WHERE stage IS NOT NULL AND stage <> {SUPPORT_N} GROUP BY stage",
        ]
        for n in range(len(STAGES)):
            rows.append(
                _row("scust", "''", "''", str(n), "customer_id", "unhappy")
                + f" FROM (SELECT customer_id, unhappy FROM cust WHERE s{n} = 1"
                f" ORDER BY unhappy DESC, customer_id LIMIT {int(drill)}) AS x{n}"
            )
            where = "" if n == SUPPORT_N else f" WHERE stage = {n}"
            rows.append(
                _row("sconv", "''", "''", str(n), "id")
                + f" FROM (SELECT id FROM cf{where} ORDER BY id DESC LIMIT {int(drill)}) AS y{n}"
            )
    st.add("\n" + "\nUNION ALL\n".join(rows))
    return st


def _counts(p: float | None, pa: float | None, d: float | None) -> tuple[int, int, int]:
    return int(p or 0), int(pa or 0), int(d or 0)


def journey_sums(
    *,
    workspace: Workspace,
    filters: DashboardFilters,
    mapping: StageMap,
    themes: dict[int, tuple[str, ...]],
    drill: int = 0,
) -> Sums:
    """Run the statement (see the module docstring). `themes`: the comment theme cause of each
    commented answer. `drill`: the page size of the customers and conversations kept behind
    each stage and cause (0: none)."""
    tags = dict(Tag.objects.filter(workspace=workspace).values_list("id", "name"))
    tag_codes = _tag_codes(workspace, mapping)
    theme_keys = sorted({cause for causes in themes.values() for cause in causes})
    theme_number = {key: n for n, key in enumerate(theme_keys)}
    theme_rows = sorted(
        (rid, theme_number[cause]) for rid, causes in themes.items() for cause in causes
    )
    st = _statement(
        workspace=workspace,
        filters=filters,
        mapping=mapping,
        tag_codes=tag_codes,
        themes=theme_rows,
        drill=drill,
    )

    def cause_key(kind: str, name: str, k: int) -> str:
        if kind == "i":
            return f"intent:{intents[k]}"
        if kind == "t":
            return f"tag:{tags.get(k, k)}"
        if kind == "o":
            return f"order:{ORDER_CAUSES[k]}"
        return theme_keys[k]

    stages = {stage: StageSums() for stage in STAGES}
    causes: dict[str, CauseSums] = {}
    pages: dict[str, DrillPage] = {}
    customers = unhappy = 0
    nps_all = (0, 0, 0)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The statement's many expressions cost PostgreSQL's JIT seconds of compilation
            # (2 of 5 s at 20,000 conversations) for no gain: off for this transaction only.
            # Its sorts and hashes spill to disk with the default 4 MB: at 1M conversations
            # 2.4 GB of temp files, 192 s wall / 58 s CPU; with WORK_MEM 0.45 GB, 120 s / 50 s.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cursor.execute("".join(st.parts), st.params)
        rows = cursor.fetchall()
        if connection.vendor == "postgresql":  # inside a caller's transaction: back as it was
            cursor.execute("SET LOCAL jit TO DEFAULT")
            cursor.execute("SET LOCAL work_mem TO DEFAULT")
    intents = {int(k): name for part, _kind, name, k, *_v in rows if part == "intent"}
    for part, kind, name, raw_k, *v in rows:
        k = int(raw_k)
        stage = (
            STAGES[k]
            if part in ("touch", "stage", "scust", "sconv", "sconvn") and k < len(STAGES)
            else ""
        )
        if part == "touch" and stage:
            stages[stage].interactions, stages[stage].negative = int(v[0]), int(v[1] or 0)
        elif part == "stage" and stage:
            s = stages[stage]
            s.customers = int(v[0] or 0)
            s.nps_in = _counts(v[1], v[2], v[3])
            s.risk_in = (float(v[4] or 0.0), int(v[5]))
            s.risk_out = (float(v[6] or 0.0), int(v[7]))
            page = pages.setdefault(f"stage:{stage}", DrillPage())
            page.customer_count, page.unhappy_count = s.customers, int(v[8] or 0)
        elif part == "total":
            customers, unhappy = int(v[0]), int(v[1] or 0)
            nps_all = _counts(v[2], v[3], v[4])
        elif part == "cause":
            key = cause_key(kind, name, k)
            causes[key] = CauseSums(int(v[0]), int(v[1]), int(v[2] or 0), _counts(v[3], v[4], v[5]))
            page = pages.setdefault(key, DrillPage())
            page.customer_count, page.unhappy_count = int(v[1]), int(v[2] or 0)
            page.conversation_count = int(v[0]) if kind in ("i", "t") else 0
        elif part == "ccust":
            pages.setdefault(cause_key(kind, name, k), DrillPage()).customers.append(
                (int(v[0]), bool(v[1]))
            )
        elif part == "cconv":
            pages.setdefault(cause_key(kind, name, k), DrillPage()).conversations.append(int(v[0]))
        elif part == "scust" and stage:
            pages.setdefault(f"stage:{stage}", DrillPage()).customers.append(
                (int(v[0]), bool(v[1]))
            )
        elif part == "sconv" and stage:
            pages.setdefault(f"stage:{stage}", DrillPage()).conversations.append(int(v[0]))
        elif part == "sconvn" and stage:
            pages.setdefault(f"stage:{stage}", DrillPage()).conversation_count = int(v[0])
    for page in pages.values():
        page.customers.sort(key=lambda c: (not c[1], c[0]))
        page.conversations.sort(reverse=True)
    return Sums(customers, unhappy, nps_all, stages, causes, pages if drill else {})
