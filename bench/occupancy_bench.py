"""Benchmark: agents' occupancy and workload on the team view, the assistant's figures on the
service operations view, at scale.

    python bench/occupancy_bench.py [--conversations 1000000] [--days 365] [--runs 20]
        [--old-selectors PATH] [--no-dashboards] [--no-workload-rebuild] [--database-url URL]
        [--keep] [--reuse]

Fills PostgreSQL as bench/analytics_rollups_bench.py does (`--conversations` over `--days`
days, 40 agents, handling spans on a third; no messages, no survey answers), then adds with
set-based SQL: availability history for every agent and day (online 08-12, away 12-13, online
13-17 UTC; half the agents online now), a bot session on a quarter of the conversations (a
third of them confirmed) and `--conversations` / 3 deflection offers (half anonymous, a fifth
confirmed). Builds the rollups, rebuilds the agent-day and assistant-day rows (timed; not with
`--no-workload-rebuild`), then times for 90 days (and the previous 90 for the assistant):
the occupancy query directly and from the agent-day rows, the open-now count, the assistant's
two selectors and the figures from the assistant-day rows, the team and operations dashboards
(no filter, one filter; not with `--no-dashboards`) and the two drill-down lists. Prints
p50 / p95 wall and CPU milliseconds (goal: dashboards p95 <= 200 ms). `--old-selectors` times
the assistant selectors of another copy of `assistant/selectors.py` too (e.g. the version
before they aggregated in the database).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine
from analytics_rollups_bench import _existing, _fill, _insert_sql, _rollup, _timed, _timings

SPANS_SQL = """
INSERT INTO inbox_availabilityspan (workspace_id, created_at, updated_at, agent_id, status,
    started_at, ended_at)
SELECT %(ws)s, d + s.a, d + s.a, agent, s.status, d + s.a, d + s.b
FROM unnest(%(agents)s::bigint[]) AS agent,
     generate_series(date_trunc('day', %(now)s::timestamptz) - %(days)s * interval '1 day',
                     date_trunc('day', %(now)s::timestamptz) - interval '1 day',
                     interval '1 day') AS d,
     (VALUES ('online', interval '8 hours', interval '12 hours'),
             ('away', interval '12 hours', interval '13 hours'),
             ('online', interval '13 hours', interval '17 hours')) AS s(status, a, b);
INSERT INTO inbox_availabilityspan (workspace_id, created_at, updated_at, agent_id, status,
    started_at, ended_at)
SELECT %(ws)s, %(now)s, %(now)s, agent, 'online', %(now)s::timestamptz - interval '1 hour', NULL
FROM unnest(%(agents)s::bigint[]) WITH ORDINALITY AS a(agent, k) WHERE k %% 2 = 0;
"""

SESSIONS_SQL = """
INSERT INTO assistant_botsession ({columns})
SELECT {values}
FROM inbox_conversation AS c
WHERE c.workspace_id = %(ws)s AND c.id %% 4 = 0;
"""

SESSION_VALUES = {
    "workspace_id": "c.workspace_id",
    "created_at": "c.created_at",
    "updated_at": "c.created_at",
    "conversation_id": "c.id",
    "state": "(ARRAY['resolved','handed_off','answered'])[1 + (c.id / 4) %% 3]",
    "handoff_reason": "CASE WHEN (c.id / 4) %% 3 = 1 THEN 'low_confidence' ELSE '' END",
    "confirmed": "(c.id / 4) %% 3 = 0",
    "suggested": "'[]'",
}

OFFERS_SQL = """
INSERT INTO assistant_deflectionoffer ({columns})
SELECT {values}
FROM (SELECT g, %(now)s::timestamptz - (g::float8 * %(span)s / %(n)s) * interval '1 second' AS t
      FROM generate_series(1, %(n)s) AS g) AS s;
"""

OFFER_VALUES = {
    "workspace_id": "%(ws)s",
    "created_at": "t",
    "updated_at": "t",
    "source": "CASE WHEN g %% 3 = 0 THEN 'email' ELSE 'widget' END",
    "customer_id": "CASE WHEN g %% 2 = 0 THEN (%(customers)s)[1 + g %% %(n_customers)s] END",
    "language": "'en'",
    "article_ids": "'[1, 2]'",
    "confirmed_at": "CASE WHEN g %% 5 = 0 THEN t + interval '1 minute' END",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="Days the conversations span.")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--old-selectors", type=Path, help="Another assistant/selectors.py.")
    parser.add_argument(
        "--no-dashboards",
        action="store_true",
        help="Time only the new queries (no rollups built, no dashboards: the full rollup of a "
        "large fill takes many minutes).",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="Time again on a database left by --keep (no fill)."
    )
    parser.add_argument(
        "--no-workload-rebuild",
        action="store_true",
        help="Time the agent-day and assistant-day rows as they are (no full rebuild first).",
    )
    add_database_argument(parser)
    args = parser.parse_args()
    args.messages, args.responses = 0, 0

    with bench_database(args.database_url, keep=args.keep or args.reuse, reuse=args.reuse):
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("This bench fills the tables with PostgreSQL SQL; use PostgreSQL.")
        print(machine())
        if args.reuse:
            workspace, people = _existing()
            _time(workspace, people, args)
            print(machine())
            return
        now = dt.datetime.now(dt.UTC)
        workspace, people = _fill(args, now)
        _timed(
            "filled availability, bot sessions, offers", lambda: _more(workspace, people, args, now)
        )
        if not args.no_dashboards:
            _rollup(workspace)
        _time(workspace, people, args)
        print(machine())


def _more(
    workspace: Any, people: dict[str, Any], args: argparse.Namespace, now: dt.datetime
) -> None:
    from django.db import connection

    from ascolto.assistant.models import BotSession, DeflectionOffer
    from ascolto.customers.models import Customer
    from ascolto.inbox.models import AgentProfile

    agents = [a.pk for a in people["agents"]]
    AgentProfile.objects.bulk_create(
        AgentProfile(workspace=workspace, user_id=a, capacity={"*": 8}) for a in agents
    )
    customers = list(Customer.objects.filter(workspace=workspace).values_list("pk", flat=True))
    params = {
        "ws": workspace.pk,
        "now": now,
        "days": args.days,
        "agents": agents,
        "customers": customers,
        "n_customers": len(customers),
        "span": args.days * 86400,
        "n": max(1, args.conversations // 3),
    }
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(SPANS_SQL, params)
        cursor.execute(_insert_sql(SESSIONS_SQL, BotSession, SESSION_VALUES), params)
        cursor.execute(_insert_sql(OFFERS_SQL, DeflectionOffer, OFFER_VALUES), params)
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute(
            "ANALYZE inbox_availabilityspan; ANALYZE assistant_botsession; "
            "ANALYZE assistant_deflectionoffer;"
        )


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("old_assistant_selectors", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _time(workspace: Any, people: dict[str, Any], args: argparse.Namespace) -> None:
    from django.utils import timezone

    from ascolto.analytics import occupancy, workload_rollups
    from ascolto.analytics.dashboards import drill, operations, team
    from ascolto.analytics.dashboards.conversations import subset_queryset
    from ascolto.analytics.dashboards.filters import parse_filters
    from ascolto.assistant import selectors
    from ascolto.inbox.models import AvailabilitySpan, HandlingInterval

    print(
        f"  {AvailabilitySpan.objects.filter(workspace=workspace).count():,} availability spans, "
        f"{HandlingInterval.objects.filter(workspace=workspace).count():,} handling spans"
    )
    to = timezone.now().astimezone(ZoneInfo(workspace.timezone)).date() - dt.timedelta(days=1)
    period = {"from": (to - dt.timedelta(days=89)).isoformat(), "to": to.isoformat()}
    team_id = str(people["teams"][2].pk)
    plain = parse_filters(period, workspace=workspace)
    by_team = parse_filters({**period, "team": team_id}, workspace=workspace)
    by_channel = parse_filters({**period, "channel": "email"}, workspace=workspace)
    by_agent = parse_filters({**period, "agent": str(people["agents"][5].pk)}, workspace=workspace)
    p = plain.period
    runs = args.runs

    def row(name: str, work: Any) -> None:
        print(f"| {name} | {_timings(runs, work)} |")

    if not args.no_workload_rebuild:
        _timed(
            "agent-day and assistant-day rows, full rebuild",
            lambda: workload_rollups.workload_refresh(workspace=workspace, full=True),
        )
        _timed(
            "agent-day and assistant-day rows, refresh with nothing changed",
            lambda: workload_rollups.workload_refresh(workspace=workspace),
        )

    print()
    print(f"90 days (the previous 90 for the assistant's figures), {runs} runs each:")
    print("| what | p50 ms | p95 ms | CPU p50 ms | CPU p95 ms |")
    print("|---|---:|---:|---:|---:|")
    row(
        "occupancy query, all agents",
        lambda: occupancy.online_and_busy_seconds(
            workspace=workspace, start=p.start, end=p.end, now=timezone.now()
        ),
    )
    row(
        "occupancy from the agent-day rows, all agents",
        lambda: workload_rollups.agent_times(
            workspace=workspace, start=p.start, end=p.end, now=timezone.now()
        ),
    )
    row(
        "open now per agent",
        lambda: list(
            subset_queryset(workspace=workspace, filters=plain, name="open_now", now=timezone.now())
            .values("assignee_id")
            .order_by()
            .distinct()
        ),
    )
    modules = [("", selectors)]
    if args.old_selectors:
        modules.append((" (old)", _load(args.old_selectors)))
    for suffix, module in modules:
        row(
            f"assistant_metrics{suffix}, both periods",
            lambda module=module: [
                module.assistant_metrics(workspace=workspace, start=q.start, end=q.end)
                for q in (p, p.previous())
            ],
        )
        row(
            f"deflection_report{suffix}, both periods",
            lambda module=module: [
                module.deflection_report(
                    workspace=workspace, start=q.start, end=q.end, now=timezone.now()
                )
                for q in (p, p.previous())
            ],
        )
    row(
        "assistant figures from the assistant-day rows, both periods",
        lambda: [
            workload_rollups.assistant_figures(
                workspace=workspace, start=q.start, end=q.end, now=timezone.now()
            )
            for q in (p, p.previous())
        ],
    )
    for name in ("open_now", "bot_confirmed"):

        def listed(name: str = name) -> None:
            _, _, rows = drill.drill_conversations(
                workspace=workspace, filters=plain, name=name, now=timezone.now()
            )
            list(rows)

        row(f"drill-down list {name}", listed)
    if args.no_dashboards:
        return
    for label, filters in (
        ("none", plain),
        ("team", by_team),
        ("agent", by_agent),
        ("channel", by_channel),
    ):
        row(
            f"team dashboard, {label}",
            lambda filters=filters: team.build(
                workspace=workspace, filters=filters, now=timezone.now()
            ),
        )
    for label, filters in (("none", plain), ("channel", by_channel)):
        row(
            f"operations dashboard, {label}",
            lambda filters=filters: operations.build(
                workspace=workspace, filters=filters, now=timezone.now()
            ),
        )


if __name__ == "__main__":
    main()
