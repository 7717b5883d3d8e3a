"""Benchmark: the agent console's lists and search at 1M conversations / 10M messages.

    python bench/inbox_bench.py [--conversations 1000000] [--messages-each 10]
                                [--customers 200000] [--runs 30] [--database-url URL] [--keep]

Fills its own PostgreSQL database (bench/_setup.py) with set-based SQL: 40 agents in 8 teams,
--customers customers (a value tier each, an email identity), --conversations conversations over
a year on four channels (8% open, 3% pending, 1% snoozed, the rest resolved or closed; 20% of them
unassigned; SLA due times on the active ones) with --messages-each messages each (customer and
agent turns drawn from support phrases in English, Italian and Hebrew, some carrying an order
number), and 2,000 @mentions. Then times `inbox.selectors.conversation_list` (what the console
and `GET /api/v1/conversations` run: first page of 50 and a page reached through the cursor)
for every console view, `view_counts` (the sidebar badges), and search for a rare order number, a
common word, a customer's surname and an email address. Goal (service desk issue): p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, percentile

PHRASES = [
    "Where is my order? It should have arrived by now",
    "I would like a refund for the damaged item",
    "Can I change the delivery address of my next order",
    "The payment failed twice, please help",
    "How do I reset my password",
    "Thanks, that solved it",
    "Dov'è il mio ordine? Doveva arrivare ieri",
    "Vorrei un rimborso per il prodotto danneggiato",
    "Il pagamento non è andato a buon fine",
    "Grazie mille, tutto risolto",
    "איפה ההזמנה שלי? היא הייתה אמורה להגיע",
    "אני רוצה החזר כספי על המוצר הפגום",
    "התשלום נכשל פעמיים",
    "תודה רבה, הבעיה נפתרה",
]
REPLIES = [
    "Sorry for the wait, I am checking with the courier now",
    "I have issued the refund, you will see it in 3-5 days",
    "Ci scusiamo per il ritardo, verifico con il corriere",
    "Ho emesso il rimborso",
    "מצטערים על העיכוב, אני בודקת מול השליח",
]
SURNAMES = ["Rossi", "Bianchi", "Cohen", "Levi", "Smith", "Jones", "Ferrari", "Mizrahi"]
GIVEN = ["Giulia", "Marco", "Noa", "Yosef", "Emma", "Oliver", "Sofia", "Tamar"]

FILL = [
    (
        "customers",
        """
        INSERT INTO customers_customer (workspace_id, created_at, updated_at, name, locale,
            timezone, attributes, value_tier, lifetime_spend, orders_count)
        SELECT %(ws)s, now(), now(),
               (%(given)s::text[])[1 + g %% 8] || ' '
                   || (%(surnames)s::text[])[1 + (g / 8) %% 8] || ' ' || g,
               (ARRAY['en','it','he'])[1 + g %% 3], 'Europe/Rome', '{}',
               (ARRAY['platinum','gold','silver','bronze','bronze','bronze'])[1 + g %% 6], 0, 0
        FROM generate_series(1, %(customers)s) AS g
        """,
    ),
    (
        "identities",
        """
        INSERT INTO customers_identity (workspace_id, created_at, updated_at, customer_id, kind,
            value, verified, is_primary)
        SELECT %(ws)s, now(), now(), c.id, 'email', 'customer' || c.id || '@example.com', true,
               true
        FROM customers_customer AS c WHERE c.workspace_id = %(ws)s
        """,
    ),
    (
        "conversations",
        """
        INSERT INTO inbox_conversation (workspace_id, created_at, updated_at, inbox_id, channel,
            customer_id, status, priority, subject, language, external_thread_id,
            last_message_at, last_message_preview, reopen_count, transfer_count, message_count,
            assignee_id, team_id, first_customer_message_at, first_response_at,
            first_response_due_at, resolution_due_at)
        SELECT %(ws)s, t, t, (%(inboxes)s::bigint[])[1 + g %% 4],
               (%(channels)s::text[])[1 + g %% 4],
               %(first_customer)s + (g::bigint * 7919) %% %(customers)s,
               CASE WHEN g %% 100 < 8 THEN 'open' WHEN g %% 100 < 11 THEN 'pending'
                    WHEN g %% 100 < 12 THEN 'snoozed' WHEN g %% 100 < 82 THEN 'resolved'
                    ELSE 'closed' END,
               g %% 4, (%(phrases)s::text[])[1 + g %% %(n_phrases)s],
               (ARRAY['en','it','he'])[1 + g %% 3], '', t + interval '2 hours',
               left((%(phrases)s::text[])[1 + g %% %(n_phrases)s], 200), 0, 0,
               %(each)s,
               CASE WHEN g %% 5 = 0 THEN NULL ELSE (%(agents)s::bigint[])[1 + g %% 40] END,
               CASE WHEN g %% 5 = 0 THEN NULL ELSE (%(teams)s::bigint[])[1 + (g %% 40) %% 8] END,
               t, t + interval '30 minutes',
               CASE WHEN g %% 100 < 12 THEN now() + (g %% 180 - 60) * interval '1 minute' END,
               CASE WHEN g %% 100 < 12 THEN now() + (g %% 2880) * interval '1 minute' END
        FROM (SELECT g, now() - (g %% 525600) * interval '1 minute' - interval '3 hours' AS t
              FROM generate_series(1, %(conversations)s) AS g) AS s
        """,
    ),
    (
        "messages",
        """
        INSERT INTO inbox_message (workspace_id, created_at, updated_at, conversation_id,
            inbox_id, kind, text, html, delivery_status, delivery_error, metadata,
            author_customer_id, author_user_id)
        SELECT c.workspace_id, c.created_at + k * interval '10 minutes',
               c.created_at + k * interval '10 minutes', c.id, c.inbox_id,
               CASE WHEN k %% 2 = 0 THEN 'inbound' ELSE 'outbound' END,
               CASE WHEN k %% 2 = 0
                    THEN (%(phrases)s::text[])[1 + (c.id + k) %% %(n_phrases)s]
                         || CASE WHEN (c.id + k) %% 3 = 0 THEN ' (order W-' || c.id || k || ')'
                                 ELSE '' END
                    ELSE (%(replies)s::text[])[1 + (c.id + k) %% %(n_replies)s] END,
               '', 'delivered', '', '{}',
               CASE WHEN k %% 2 = 0 THEN c.customer_id END,
               CASE WHEN k %% 2 = 1 THEN c.assignee_id END
        FROM inbox_conversation AS c, generate_series(0, %(each)s - 1) AS k
        WHERE c.workspace_id = %(ws)s
        """,
    ),
    (
        "mentions",
        """
        INSERT INTO inbox_mention (message_id, user_id, read_at)
        SELECT m.id, (%(agents)s::bigint[])[1 + m.id %% 40], NULL
        FROM inbox_message AS m
        WHERE m.workspace_id = %(ws)s AND m.kind = 'outbound' AND m.id %% 5000 = 1
        """,
    ),
]


def _setup_workspace() -> dict[str, object]:
    from ascolto.accounts.models import Membership, Team, User
    from ascolto.core.models import Workspace
    from ascolto.inbox.models import Channel, Inbox

    ws = Workspace.objects.create(name="Bench shop", slug="bench-shop")
    teams = [Team.objects.create(workspace=ws, name=f"Team {i}") for i in range(8)]
    agents = []
    for i in range(40):
        user = User.objects.create(username=f"agent{i}", first_name=f"Agent {i}")
        Membership.objects.create(workspace=ws, user=user, role="agent")
        teams[i % 8].members.add(user)
        agents.append(user)
    channels = [Channel.EMAIL, Channel.WEBCHAT, Channel.WHATSAPP, Channel.SMS]
    inboxes = [Inbox.objects.create(workspace=ws, name=str(ch), channel=ch) for ch in channels]
    return {
        "workspace": ws,
        "agents": agents,
        "params": {
            "ws": ws.pk,
            "agents": [a.pk for a in agents],
            "teams": [t.pk for t in teams],
            "inboxes": [i.pk for i in inboxes],
            "channels": [str(c) for c in channels],
            "given": GIVEN,
            "surnames": SURNAMES,
            "phrases": PHRASES,
            "n_phrases": len(PHRASES),
            "replies": REPLIES,
            "n_replies": len(REPLIES),
        },
    }


def _time(call: Callable[[], object], runs: int) -> tuple[float, float, float]:
    call()  # warm: plans and caches, as on a server that has been up a while
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.thread_time()
        call()
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    wall.sort()
    return statistics.median(wall), percentile(wall, 95), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--messages-each", type=int, default=10)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Measure on the database a run with --keep left (no fill); implies --keep.",
    )
    add_database_argument(parser)
    args = parser.parse_args()

    with bench_database(args.database_url, keep=args.keep or args.reuse, reuse=args.reuse):
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("This bench fills the tables with PostgreSQL SQL; use PostgreSQL.")

        print(machine())
        if args.reuse:
            _measure(args)
            return
        setup = _setup_workspace()
        params = dict(setup["params"])  # type: ignore[call-overload]
        params.update(
            customers=args.customers, conversations=args.conversations, each=args.messages_each
        )
        started = time.perf_counter()
        trigram = importlib.import_module("ascolto.inbox.migrations.0002_search_trigram_indexes")
        texts = importlib.import_module("ascolto.inbox.migrations.0008_conversation_search_text")
        with connection.cursor() as cursor:
            # Loading speed is not what is measured: no foreign-key triggers while filling, and
            # the trigram indexes built once afterwards (as the migrations build them).
            cursor.execute("SET session_replication_role = replica")
            for index in [name for name, _table, _column in trigram.INDEXES] + [texts.SEARCH_INDEX]:
                cursor.execute(f'DROP INDEX IF EXISTS "{index}"')
            for name, sql in FILL:
                t0 = time.perf_counter()
                if name == "conversations":
                    cursor.execute(
                        "SELECT min(id) FROM customers_customer WHERE workspace_id = %s",
                        [params["ws"]],
                    )
                    params["first_customer"] = cursor.fetchone()[0]
                cursor.execute(sql, params)
                print(f"  {name}: {cursor.rowcount:,} rows in {time.perf_counter() - t0:.0f} s")
            t0 = time.perf_counter()
            texts.fill_search_texts(connection)
            print(f"  conversation search texts: {time.perf_counter() - t0:.0f} s")
            cursor.execute("SET session_replication_role = DEFAULT")
            t0 = time.perf_counter()
            with connection.schema_editor() as editor:
                trigram.create(None, editor)
            texts.create_search_index(connection)
            print(f"  trigram indexes: {time.perf_counter() - t0:.0f} s")
            cursor.execute("VACUUM ANALYZE")
        print(f"filled in {time.perf_counter() - started:.0f} s")

        _measure(args)


def _measure(args: argparse.Namespace) -> None:
    from ascolto.accounts.models import User
    from ascolto.core.models import Workspace
    from ascolto.inbox import selectors
    from ascolto.inbox.selectors import ConversationFilter

    workspace = Workspace.objects.get(slug="bench-shop")
    agent = User.objects.get(username="agent1")

    def listing(view: str, status: str | None = "open", search: str = "", deep: bool = False):
        def call() -> object:
            f = ConversationFilter(view=view, status=status, search=search)
            page = selectors.conversation_list(workspace=workspace, user=agent, filters=f)
            if deep and page.next_cursor:
                for _ in range(4):
                    if not page.next_cursor:
                        break
                    page = selectors.conversation_list(
                        workspace=workspace, user=agent, filters=f, cursor=page.next_cursor
                    )
            return page

        return call

    cases: list[tuple[str, Callable[[], object]]] = [
        (f"view {view}, open", listing(view)) for view in selectors.VIEWS
    ]
    cases += [
        ("view all, any status", listing("all", None)),
        ("view all, open, 5th page (4 cursor hops + first)", listing("all", deep=True)),
        ("view mine, active", listing("mine", "active")),
        (
            "sidebar counts (7 views)",
            lambda: selectors.view_counts(workspace=workspace, user=agent),
        ),
        ("search: a rare order number", listing("all", None, "W-5000011")),
        ("search: a common word (refund), open", listing("all", "open", "refund")),
        ("search: a common word (refund), any status", listing("all", None, "refund")),
        ("search: a surname (Mizrahi)", listing("all", None, "Mizrahi")),
        ("search: an email address", listing("all", None, "customer4242@example.com")),
        ("search: Hebrew words (החזר כספי)", listing("all", None, "החזר כספי")),
    ]
    print("\n| query | p50 | p95 | CPU p50 (this process) |\n| --- | ---: | ---: | ---: |")
    for label, call in cases:
        p50, p95, cpu = _time(call, args.runs)
        print(f"| {label} | {p50:.1f} ms | {p95:.1f} ms | {cpu:.1f} ms |", flush=True)
    print(f"\n{machine()}")


if __name__ == "__main__":
    main()
