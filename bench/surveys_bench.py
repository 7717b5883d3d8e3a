"""Benchmark: survey aggregation over many responses, and survey submit throughput.

    python bench/surveys_bench.py [--responses 1000000] [--runs 30] [--submits 2000]
                                  [--threads 4] [--database-url URL] [--keep]

Fills PostgreSQL with `--responses` answered invitations (NPS, CSAT and CES surveys, spread over
a year, 40 agents, 8 teams, 5 channels, 3 languages, 5 tiers) with set-based SQL, then times
`surveys.selectors.metric_counts` (what GET /api/v1/surveys/metrics runs) for the whole year, in
total and per breakdown, counting every response and then from the daily rollups (after a full
rollup, timed), and prints p50 / p95 in milliseconds (goal: p95 <= 200 ms). Then it
records `--submits` two-page answers through `services.response_record` from `--threads`
threads, each answer in its own transaction, and prints answers per second.

    python bench/surveys_bench.py --http --submits 40000 --seconds 20 [--connections 64]

The submit path as customers use it (goal >= 1,000 complete responses/s on 2 cores): real
`ascolto web --workers 2` processes on PostgreSQL + Redis, loaded by `wrk` (a separate
process, C) posting both pages of an NPS survey (score, then comment) with a distinct token
per response and a client address per customer, for `--seconds`. The posts are served by the
fast submit path in front of Django (surveys/fastintake.py: rate limit in Redis, batched reads,
group commit); give `--submits` above the responses the run can complete, or the tokens wrap
around and the later posts are answered "already answered" without a write. Prints
responses/s and the p50/p95/p99 latency of the requests, then runs the intake worker over
everything accepted and prints its completion rate and batch size, and checks that every
accepted answer ended up
completed exactly once (one response, one timeline entry, one outbox event each). CPU seconds
of the web processes, PostgreSQL backends, wrk and the worker are printed beside wall time,
and per request. BENCH_REDIS_URL picks the Redis database (default db 15, flushed).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, percentile

BREAKDOWNS = (None, "channel", "team", "agent", "segment", "language", "touchpoint", "survey")

FILL_SQL = """
INSERT INTO surveys_invitation (
    workspace_id, created_at, updated_at, survey_id, customer_id, channel, status, skip_reason,
    source_key, language, token_digests, send_after, sent_at, answered_at, attempts, last_error,
    bounce_reason, context_channel, context, agent_id, team_id
)
SELECT %(ws)s, t, t, (%(surveys)s)[1 + g %% 3], (%(customers)s)[1 + g %% %(n_customers)s],
       'email', 'sent', '', 'bench:' || g, (ARRAY['en','it','he'])[1 + g %% 3], '[]', t, t, t,
       1, '', '', (ARRAY['email','webchat','whatsapp','sms','voice'])[1 + g %% 5], '{}',
       (%(agents)s)[1 + g %% %(n_agents)s], (%(teams)s)[1 + g %% %(n_teams)s]
FROM (SELECT g, now() - (g %% 525600) * interval '1 minute' AS t
      FROM generate_series(1, %(n)s) AS g) AS s;
"""

RESPONSES_SQL = """
INSERT INTO surveys_response (
    workspace_id, created_at, updated_at, survey_id, invitation_id, customer_id, answers,
    completed, closed, submitted_at, language, nps_score, csat_score, ces_score, comment,
    sentiment, touchpoint, channel, segment, agent_id, team_id
)
SELECT i.workspace_id, i.sent_at, i.sent_at, i.survey_id, i.id, i.customer_id, '{}', true,
       'submitted', i.sent_at, i.language,
       CASE WHEN i.survey_id = %(nps)s THEN (i.id * 7) %% 11 END,
       CASE WHEN i.survey_id = %(csat)s THEN 1 + (i.id * 7) %% 5 END,
       CASE WHEN i.survey_id = %(ces)s THEN 1 + (i.id * 7) %% 7 END,
       '', '', (ARRAY['support','delivery','product','billing','website'])[1 + i.id %% 5],
       i.context_channel, (ARRAY['platinum','gold','silver','bronze',''])[1 + i.id %% 5],
       i.agent_id, i.team_id
FROM surveys_invitation AS i WHERE i.source_key LIKE 'bench:%%';
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--submits", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--http", action="store_true", help="Only the HTTP submit benchmark.")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--direct-runs", type=int, default=3, help="Runs without rollups (0 to skip)."
    )
    add_database_argument(parser)
    args = parser.parse_args()

    with bench_database(args.database_url, keep=args.keep):
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("This bench fills the tables with PostgreSQL SQL; use PostgreSQL.")
        print(machine())
        if args.http:
            from http_submits import run

            run(args.submits, args.seconds, args.connections, args.port, args.database_url)
            return
        surveys, workspace = _fill(args.responses)
        _aggregation(workspace, args.runs, args.direct_runs)
        _submits(workspace, surveys[0], args.submits, args.threads)


def _fill(n: int) -> tuple[list[object], object]:
    from django.db import connection

    from ascolto.accounts.models import Membership, Team, User
    from ascolto.core.actors import Actor
    from ascolto.core.models import Workspace
    from ascolto.customers.models import Customer
    from ascolto.surveys import services

    actor = Actor.system("bench")
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    surveys = [
        services.survey_create(
            workspace=workspace, actor=actor, kind=kind, name=kind, touchpoint="support", title=kind
        )
        for kind in ("nps", "csat", "ces")
    ]
    customers = Customer.objects.bulk_create(
        Customer(workspace=workspace, name=f"Customer {i}") for i in range(20_000)
    )
    agents = User.objects.bulk_create(User(username=f"agent{i}") for i in range(40))
    Membership.objects.bulk_create(Membership(workspace=workspace, user=u) for u in agents)
    teams = Team.objects.bulk_create(Team(workspace=workspace, name=f"Team {i}") for i in range(8))
    started = time.perf_counter()
    params = {
        "ws": workspace.pk,
        "surveys": [s.pk for s in surveys],
        "customers": [c.pk for c in customers],
        "n_customers": len(customers),
        "agents": [a.pk for a in agents],
        "n_agents": len(agents),
        "teams": [t.pk for t in teams],
        "n_teams": len(teams),
        "n": n,
        "nps": surveys[0].pk,
        "csat": surveys[1].pk,
        "ces": surveys[2].pk,
    }
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL, params)
        cursor.execute(RESPONSES_SQL, params)
        cursor.execute("ANALYZE surveys_invitation; ANALYZE surveys_response;")
    print(f"filled {n:,} invitations and responses in {time.perf_counter() - started:.0f} s")
    return surveys, workspace


def _aggregation(workspace: object, runs: int, direct_runs: int) -> None:
    import datetime as dt

    from django.utils import timezone

    from ascolto.surveys import rollups, selectors

    year = selectors.ResponseFilter(since=timezone.now() - dt.timedelta(days=366))

    def table(title: str, count: int) -> None:
        print(f"\nmetric_counts over a year, {title} ({count} runs each), ms:")
        print(f"{'breakdown':<12} {'p50':>8} {'p95':>8}")
        for by in BREAKDOWNS:
            timings = []
            for _ in range(count):
                started = time.perf_counter()
                selectors.metric_counts(workspace=workspace, filters=year, by=by)  # type: ignore[arg-type]
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            print(
                f"{by or 'total':<12} {percentile(timings, 50):8.1f} {percentile(timings, 95):8.1f}"
            )

    if direct_runs:
        table("counting every response", direct_runs)
    started = time.perf_counter()
    days = rollups.rollups_refresh(workspace=workspace, full=True)  # type: ignore[arg-type]
    print(f"\nfull rollup of {days} days: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    rollups.rollups_refresh(workspace=workspace)  # type: ignore[arg-type]
    print(f"incremental refresh with nothing changed: {time.perf_counter() - started:.2f} s")
    table("daily rollups + today counted directly", runs)


def _submits(workspace: object, survey: object, count: int, threads: int) -> None:
    from django.db import connection, transaction

    from ascolto.customers.models import Customer
    from ascolto.surveys import services
    from ascolto.surveys.models import Invitation

    customers = list(Customer.objects.filter(workspace=workspace).order_by("pk")[:count])
    invitations = Invitation.objects.bulk_create(
        Invitation(
            workspace=workspace,
            survey=survey,
            customer=c,
            channel="email",  # type: ignore[misc]
            status="sent",
            source_key=f"submit:{c.pk}",
            send_after=c.created_at,
        )
        for c in customers
    )
    chunks = [invitations[i::threads] for i in range(threads)]
    errors: list[BaseException] = []

    def work(batch: list[Invitation]) -> None:
        try:
            for invitation in batch:
                with transaction.atomic():
                    services.response_record(
                        invitation=invitation, answers={"score": 9}, keys=["score"]
                    )
                with transaction.atomic():
                    services.response_record(
                        invitation=invitation, answers={"why": "ok"}, keys=["why"]
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    print(
        f"\n{count:,} answers of two pages each ({2 * count:,} page saves) in {elapsed:.1f} s "
        f"with {threads} threads: {count / elapsed:,.0f} answers/s, "
        f"{2 * count / elapsed:,.0f} page saves/s"
    )


if __name__ == "__main__":
    main()
