"""Benchmark: the conversation dashboards read from daily rollups at scale.

    python bench/analytics_rollups_bench.py [--conversations 1000000] [--messages 10]
        [--days 365] [--responses 1000000] [--runs 20] [--changed 1000]
        [--database-url URL] [--keep] [--reuse] [--no-rollup]
        [--views overview,operations,team,voice,lists] [--filters none,channel,...,direct]

Fills PostgreSQL with set-based SQL (INSERT ... SELECT generate_series): `--conversations`
spread evenly over the last `--days` days (8 teams, 40 agents, 5 channels, 3 languages, 5 value
tiers; answered, resolved, reopened, transferred, SLA targets, handling spans on a third),
`--messages` messages each, and `--responses` survey responses (their rollups are built too).
Runs the full conversation rollup (timed), then builds each dashboard as its view does
(overview, operations, team, voice of the customer) for 90 days with the previous 90 days:
ending yesterday (whole days) with no filter, each single filter, two filters together (their
own rollup rows) and three (computed directly from the matching conversations); and ending
today (today so far from the rollups, what started since the last refresh directly) with no
filter and one filter. Then the drill-down lists behind four numbers (count and first page).
`--runs` runs each; prints p50 / p95 wall and CPU milliseconds (goal: p95 <= 200 ms).
Last, the refresh with nothing changed and after `--changed` conversations were resolved.
With `--reuse` (a database left by `--keep`), only the dashboards are timed again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, percentile

CHANNELS = ["webchat", "email", "whatsapp", "sms", "voice"]
TIERS = ["platinum", "gold", "silver", "bronze", ""]

# One conversation per generate_series value g; t is its start, a minute step back from now.
CONVERSATIONS_SQL = """
INSERT INTO inbox_conversation ({columns})
SELECT {values}
FROM (SELECT g, %(now)s::timestamptz - (g::float8 * %(span)s / %(n)s) * interval '1 second' AS t
      FROM generate_series(%(first)s, %(last)s) AS g) AS s;
"""

CONVERSATION_VALUES = {
    "workspace_id": "%(ws)s",
    "created_at": "t",
    "updated_at": "t",
    "inbox_id": "(%(inboxes)s)[1 + g %% 5]",
    "channel": "(%(channels)s::text[])[1 + g %% 5]",
    "customer_id": "(%(customers)s)[1 + g %% %(n_customers)s]",
    "status": "CASE WHEN g %% 10 < 7 AND t < %(now)s::timestamptz - interval '3 days' "
    "THEN (CASE WHEN g %% 20 = 1 THEN 'closed' ELSE 'resolved' END) "
    "ELSE (ARRAY['open','pending','snoozed'])[1 + g %% 3] END",
    "language": "(ARRAY['en','it','he'])[1 + g %% 3]",
    "assignee_id": "CASE WHEN g %% 10 = 9 THEN NULL ELSE (%(agents)s)[1 + g %% 40] END",
    "team_id": "CASE WHEN g %% 10 = 9 THEN NULL ELSE (%(teams)s)[1 + (g %% 40) %% 8] END",
    "last_message_at": "t + interval '3 hours'",
    "first_customer_message_at": "t",
    "first_response_at": "CASE WHEN g %% 10 < 8 "
    "THEN t + ((g * 37) %% 7200) * interval '1 second' END",
    "resolved_at": "CASE WHEN g %% 10 < 7 AND t < %(now)s::timestamptz - interval '3 days' "
    "THEN t + ((g * 53) %% 172800) * interval '1 second' END",
    "reopen_count": "CASE WHEN g %% 9 = 0 THEN 1 ELSE 0 END",
    "transfer_count": "CASE WHEN g %% 7 = 0 THEN 1 ELSE 0 END",
    "message_count": "%(messages)s",
    "first_response_due_at": "CASE WHEN g %% 2 = 0 THEN t + interval '1 hour' END",
    "resolution_due_at": "CASE WHEN g %% 2 = 0 THEN t + interval '1 day' END",
}

MESSAGES_SQL = """
INSERT INTO inbox_message ({columns})
SELECT {values}
FROM inbox_conversation AS c, generate_series(1, %(messages)s) AS k
WHERE c.workspace_id = %(ws)s AND c.id BETWEEN %(first)s AND %(last)s;
"""

MESSAGE_VALUES = {
    "workspace_id": "c.workspace_id",
    "created_at": "c.first_customer_message_at + (k - 1) * interval '17 minutes'",
    "updated_at": "c.first_customer_message_at",
    "conversation_id": "c.id",
    "inbox_id": "c.inbox_id",
    "kind": "CASE WHEN k %% 2 = 1 THEN 'inbound' WHEN k %% 6 = 0 THEN 'note' "
    "WHEN k %% 10 = 4 THEN 'bot' ELSE 'outbound' END",
    "text": "'Hello, about my order'",
}

HANDLING_SQL = """
INSERT INTO inbox_handlinginterval (workspace_id, created_at, updated_at, conversation_id,
    agent_id, started_at, ended_at)
SELECT c.workspace_id, c.first_customer_message_at, c.first_customer_message_at, c.id,
       c.assignee_id, c.first_customer_message_at,
       c.first_customer_message_at + ((c.id * 31) %% 1800 + 60) * interval '1 second'
FROM inbox_conversation AS c
WHERE c.workspace_id = %(ws)s AND c.assignee_id IS NOT NULL AND c.id %% 3 = 0;
"""


def _drill_flags() -> Any:
    """The inbox migration that adds the drill-down lists' flags (its BACKFILL_SQL)."""
    import pkgutil

    from ascolto.inbox import migrations

    names = (m.name for m in pkgutil.iter_modules(migrations.__path__))
    name = next(n for n in names if n.endswith("_conversation_drill_flags"))
    return importlib.import_module(f"ascolto.inbox.migrations.{name}")


def _insert_sql(template: str, model: Any, values: dict[str, str]) -> str:
    """An INSERT naming every column of the model: the given expressions, else the field's
    default (Django keeps defaults in Python, not in the schema) or NULL."""
    columns, expressions = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(f.column)
        if f.column in values:
            expressions.append(values[f.column])
        elif f.null:
            expressions.append("NULL")
        else:
            default = f.get_default()
            if isinstance(default, dict):
                expressions.append("'{}'")
            elif isinstance(default, bool):
                expressions.append("true" if default else "false")
            elif isinstance(default, str):
                expressions.append("'" + default.replace("'", "''") + "'")
            else:
                expressions.append(str(int(default)))
    return template.format(columns=", ".join(columns), values=", ".join(expressions))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=10, help="Messages per conversation.")
    parser.add_argument("--days", type=int, default=365, help="Days the conversations span.")
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Time the dashboards again on a database left by --keep (no fill, no refresh).",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="Freeze what is loaded before the dashboards are timed, as the servers do "
        "(config/asgi.py).",
    )
    parser.add_argument(
        "--no-rollup",
        action="store_true",
        help="Neither build nor refresh the rollups (a full build at 1M takes over an hour): "
        "for timing what never reads them, the three-filter views and the lists.",
    )
    parser.add_argument(
        "--views",
        default="overview,operations,team,voice,lists",
        help="Comma-separated: which of overview, operations, team, voice, lists to time.",
    )
    parser.add_argument(
        "--filters",
        default="",
        help="Comma-separated filter labels to time (none, channel, team, agent, language, "
        "tier, channel+team, language+tier, direct); default all.",
    )
    add_database_argument(parser)
    args = parser.parse_args()

    with bench_database(args.database_url, keep=args.keep or args.reuse, reuse=args.reuse):
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("This bench fills the tables with PostgreSQL SQL; use PostgreSQL.")
        print(machine())
        if args.reuse:
            workspace, people = _existing()
            if not args.no_rollup and not _rolled_up(workspace):
                _rollup(workspace)  # a migration asked for the rollups to be rebuilt
            _dashboards(workspace, people, args)
            print(machine())
            return
        now = dt.datetime.now(dt.UTC)
        workspace, people = _fill(args, now)
        if not args.no_rollup:
            _rollup(workspace)
        _dashboards(workspace, people, args)
        if not args.no_rollup:
            _refreshes(workspace, args.changed)
        print(machine())


def _timed(label: str, work: Any) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU (load {os.getloadavg()[0]:.1f})")
    return result


def _fill(args: argparse.Namespace, now: dt.datetime) -> tuple[Any, dict[str, Any]]:
    from django.db import connection

    from ascolto.accounts.models import Membership, Team, User
    from ascolto.core.models import Workspace
    from ascolto.customers.models import Customer
    from ascolto.inbox.models import Conversation, Inbox, Message

    workspace = Workspace.objects.create(name="Bench", slug="bench", timezone="Europe/Rome")
    agents = User.objects.bulk_create(User(username=f"agent{i}") for i in range(40))
    Membership.objects.bulk_create(Membership(workspace=workspace, user=u) for u in agents)
    teams = Team.objects.bulk_create(Team(workspace=workspace, name=f"Team {i}") for i in range(8))
    inboxes = [Inbox.objects.create(workspace=workspace, name=c, channel=c) for c in CHANNELS]
    customers = Customer.objects.bulk_create(
        (
            Customer(workspace=workspace, name=f"Customer {i}", value_tier=TIERS[i % 5])
            for i in range(max(1, args.conversations // 5))
        ),
        batch_size=5000,
    )
    params: dict[str, Any] = {
        "ws": workspace.pk,
        "now": now,
        "inboxes": [i.pk for i in inboxes],
        "channels": CHANNELS,
        "customers": [c.pk for c in customers],
        "n_customers": len(customers),
        "agents": [a.pk for a in agents],
        "teams": [t.pk for t in teams],
        "messages": args.messages,
        "span": args.days * 86400,
        "n": args.conversations,
    }
    conversations_sql = _insert_sql(CONVERSATIONS_SQL, Conversation, CONVERSATION_VALUES)
    messages_sql = _insert_sql(MESSAGES_SQL, Message, MESSAGE_VALUES)

    def conversations() -> None:
        with connection.cursor() as cursor:
            # A bulk load: no per-row foreign-key triggers (the ids come from the rows above).
            cursor.execute("SET session_replication_role = replica")
            chunk = 250_000
            for first in range(1, args.conversations + 1, chunk):
                last = min(args.conversations, first + chunk - 1)
                cursor.execute(conversations_sql, {**params, "first": first, "last": last})
            cursor.execute(HANDLING_SQL, params)
            cursor.execute(
                "ANALYZE customers_customer; ANALYZE inbox_conversation; "
                "ANALYZE inbox_handlinginterval;"
            )

    def messages() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT min(id), max(id) FROM inbox_conversation WHERE workspace_id = %s",
                [workspace.pk],
            )
            low, high = cursor.fetchone()
            chunk = max(1, 1_000_000 // max(1, args.messages))
            for first in range(low, high + 1, chunk):
                cursor.execute(messages_sql, {**params, "first": first, "last": first + chunk - 1})
            # The drill-down lists' flags, as the services keep them: the migration's backfill.
            cursor.execute(_drill_flags().BACKFILL_SQL)
            cursor.execute("ANALYZE inbox_message;")
            cursor.execute("SET session_replication_role = DEFAULT")
        with connection.cursor() as cursor:
            # Outside a transaction: the counts and the message summaries are index-only scans
            # once the pages are marked all-visible, as autovacuum leaves the tables after 1 %
            # new rows (inbox migration 0010, decision 0015).
            cursor.execute("VACUUM ANALYZE inbox_conversation")
            cursor.execute("VACUUM ANALYZE inbox_message")

    _timed(f"filled {args.conversations:,} conversations", conversations)
    _timed(f"filled {args.conversations * args.messages:,} messages", messages)
    if args.responses:
        _timed(f"filled {args.responses:,} survey responses", lambda: _responses(args, params))
    return workspace, {"agents": agents, "teams": teams}


def _existing() -> tuple[Any, dict[str, Any]]:
    """The workspace, agents and teams a run with --keep left."""
    from ascolto.accounts.models import Team, User
    from ascolto.core.models import Workspace

    workspace = Workspace.objects.get(slug="bench")
    agents = list(User.objects.filter(memberships__workspace=workspace).order_by("pk"))
    teams = list(Team.objects.filter(workspace=workspace).order_by("pk"))
    return workspace, {"agents": agents, "teams": teams}


def _rolled_up(workspace: Any) -> bool:
    from ascolto.analytics.models import ConversationRollupState

    return ConversationRollupState.objects.filter(workspace=workspace).exists()


def _responses(args: argparse.Namespace, params: dict[str, Any]) -> None:
    """Survey responses as bench/surveys_bench.py fills them, then their daily rollups."""
    import surveys_bench
    from django.db import connection

    from ascolto.core.actors import Actor
    from ascolto.core.models import Workspace
    from ascolto.surveys import rollups as survey_rollups
    from ascolto.surveys import services

    workspace = Workspace.objects.get(pk=params["ws"])
    actor = Actor.system("bench")
    surveys = [
        services.survey_create(
            workspace=workspace, actor=actor, kind=kind, name=kind, touchpoint="support", title=kind
        )
        for kind in ("nps", "csat", "ces")
    ]
    survey_params = {
        **params,
        "surveys": [s.pk for s in surveys],
        "customers": params["customers"][:20_000],
        "n_customers": min(20_000, params["n_customers"]),
        "n_agents": len(params["agents"]),
        "n_teams": len(params["teams"]),
        "n": args.responses,
        "nps": surveys[0].pk,
        "csat": surveys[1].pk,
        "ces": surveys[2].pk,
    }
    with connection.cursor() as cursor:
        cursor.execute(surveys_bench.FILL_SQL, survey_params)
        cursor.execute(surveys_bench.RESPONSES_SQL, survey_params)
        cursor.execute("ANALYZE surveys_invitation; ANALYZE surveys_response;")
    survey_rollups.rollups_refresh(workspace=workspace)


def _rollup(workspace: Any) -> None:
    from ascolto.analytics import rollups
    from ascolto.analytics.models import ConversationRollup

    days = _timed("full conversation rollup", lambda: rollups.rollups_refresh(workspace=workspace))
    rows = ConversationRollup.objects.filter(workspace=workspace).count()
    print(f"  {days} days, {rows:,} rollup rows")


def _timings(runs: int, work: Any) -> str:
    """p50 / p95 wall and CPU milliseconds of `runs` runs after one warm-up, as table cells."""
    work()
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    walls.sort()
    cpus.sort()
    return (
        f"{percentile(walls, 50):.0f} | {percentile(walls, 95):.0f} "
        f"| {percentile(cpus, 50):.0f} | {percentile(cpus, 95):.0f}"
    )


def _dashboards(workspace: Any, people: dict[str, Any], args: argparse.Namespace) -> None:
    from django.utils import timezone

    from ascolto.analytics.dashboards import drill, operations, overview, team, voice
    from ascolto.analytics.dashboards.filters import parse_filters

    today = timezone.now().astimezone(ZoneInfo(workspace.timezone)).date()
    selections = {
        "none": {},
        "channel": {"channel": "email"},
        "team": {"team": str(people["teams"][2].pk)},
        "agent": {"agent": str(people["agents"][5].pk)},
        "language": {"language": "it"},
        "tier": {"tier": "gold"},
        "channel+team": {"channel": "email", "team": str(people["teams"][2].pk)},
        "language+tier": {"language": "it", "tier": "gold"},
        "channel+team+language (direct)": {
            "channel": "email",
            "team": str(people["teams"][2].pk),
            "language": "he",
        },
        "channel+language+tier (direct)": {"channel": "email", "language": "he", "tier": "gold"},
    }
    runs, freeze = args.runs, args.gc_freeze
    views = set(args.views.split(","))
    if args.filters:
        wanted = set(args.filters.split(","))
        selections = {
            k: v
            for k, v in selections.items()
            if k.split(" ")[0] in wanted or ("direct" in wanted and k.endswith("(direct)"))
        }
    if freeze:
        gc.collect()
        gc.freeze()
    print()
    print(
        f"Dashboards, 90 days with the previous 90 days, {runs} runs each"
        f"{' (gc.freeze)' if freeze else ''}:"
    )
    print("| dashboard | period | filter | p50 ms | p95 ms | CPU p50 ms | CPU p95 ms |")
    print("|---|---|---|---:|---:|---:|---:|")
    cases = [("to yesterday", label, extra) for label, extra in selections.items()]
    cases += [
        ("to today", label, selections[label])
        for label in ("none", "channel")
        if label in selections
    ]
    # Survey selections the survey rollups have no rows for: counted directly, by the indexes.
    survey_direct = [
        (
            "to yesterday",
            "agent+language (survey direct)",
            {"agent": str(people["agents"][5].pk), "language": "it"},
        ),
        (
            "to yesterday",
            "channel+team+language+tier (survey direct)",
            {
                "channel": "email",
                "team": str(people["teams"][2].pk),
                "language": "he",
                "tier": "gold",
            },
        ),
    ]
    if args.filters and "direct" not in set(args.filters.split(",")):
        survey_direct = []

    def filters_of(until: str, extra: dict[str, str]) -> Any:
        to = today - dt.timedelta(days=1) if until == "to yesterday" else today
        period = {"from": (to - dt.timedelta(days=89)).isoformat(), "to": to.isoformat()}
        return parse_filters({**period, **extra}, workspace=workspace)

    dashboards = (("overview", overview), ("operations", operations), ("team", team))
    for name, module in (*dashboards, ("voice", voice)):
        if name not in views:
            continue
        for until, label, extra in cases + (survey_direct if name == "voice" else []):
            filters = filters_of(until, extra)
            cells = _timings(
                runs,
                lambda module=module, filters=filters: module.build(
                    workspace=workspace, filters=filters, now=timezone.now()
                ),
            )
            print(f"| {name} | {until} | {label} | {cells} |")
    if "lists" not in views:
        return
    print()
    print("Drill-down lists (count and the first page), same periods:")
    print("| list | period | filter | p50 ms | p95 ms | CPU p50 ms | CPU p95 ms |")
    print("|---|---|---|---:|---:|---:|---:|")
    for subset in ("all", "frt_missed", "handled", "bot_resolved"):
        for label in ("none", "channel+team", "tier"):
            if label not in selections:
                continue
            filters = filters_of("to yesterday", selections[label])

            def listed(subset: str = subset, filters: Any = filters) -> None:
                _, _, rows = drill.drill_conversations(
                    workspace=workspace, filters=filters, name=subset, now=timezone.now()
                )
                list(rows)

            print(f"| {subset} | to yesterday | {label} | {_timings(runs, listed)} |")


def _refreshes(workspace: Any, changed: int) -> None:
    from django.utils import timezone

    from ascolto.analytics import rollups
    from ascolto.inbox.models import Conversation

    print()
    days = _timed(
        "refresh, no conversation changed (today so far is rolled up again)",
        lambda: rollups.rollups_refresh(workspace=workspace, now=timezone.now()),
    )
    print(f"  {days} past days recomputed")
    open_ids = Conversation.objects.filter(workspace=workspace, status="open").order_by("id")
    ids = list(open_ids.values_list("id", flat=True)[: changed * 37])[::37]
    Conversation.objects.filter(pk__in=ids).update(
        status="resolved", resolved_at=timezone.now(), updated_at=timezone.now()
    )
    days = _timed(
        f"refresh after {len(ids):,} conversations of the past year were resolved",
        lambda: rollups.rollups_refresh(workspace=workspace, now=timezone.now()),
    )
    print(f"  {days} past days recomputed")


if __name__ == "__main__":
    main()
