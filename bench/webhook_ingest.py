"""Benchmark: provider webhooks (Twilio SMS/WhatsApp and Meta WhatsApp Cloud) taken in, with a
share of duplicate deliveries, and nothing stored twice.

    python bench/webhook_ingest.py [--messages 3000] [--duplicates 0.3] [--threads 4]
                                   [--customers 500] [--database-url URL] [--keep]

Creates its own database (bench/_setup.py), a workspace with a Twilio SMS account and a Meta
WhatsApp account, then posts signed webhook deliveries through the product's URLs and views
(Django's test client: the full request path — URL routing, signature check, parsing, the inbox
write path — without an HTTP server in front) from --threads threads, each with its own
database connection. Half the deliveries are Twilio forms, half Meta JSON bodies; a --duplicates
share repeats a delivery already made (what a provider's retry does).

Prints deliveries per second, new messages per second, latency percentiles per delivery, and
the checks: one message row per provider id, as many rows as distinct ids sent, every delivery
answered 2xx.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, percentile

# Credentials of the bench database only, created and dropped with it.
TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"  # noqa: S105
META_SECRET = "bench-app-secret"  # noqa: S105


def twilio_delivery(account_id: int, n: int, customer: int) -> tuple[str, dict[str, str]]:
    return f"/connectors/twilio/{account_id}/inbound", {
        "MessageSid": f"SM{n:032d}",
        "From": f"+39333{customer:07d}",
        "To": "+390212345678",
        "Body": f"Message {n}: where is my order?",
        "NumMedia": "0",
    }


def meta_delivery(account_id: int, n: int, customer: int) -> tuple[str, bytes]:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "contacts": [
                                {
                                    "profile": {"name": f"C {customer}"},
                                    "wa_id": f"39333{customer:07d}",
                                }
                            ],
                            "messages": [
                                {
                                    "from": f"39333{customer:07d}",
                                    "id": f"wamid.BENCH{n}",
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": f"Message {n}"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return f"/connectors/meta/{account_id}/webhook", json.dumps(body).encode()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=3000, help="deliveries in all")
    parser.add_argument("--duplicates", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    add_database_argument(parser)
    args = parser.parse_args()
    if not 0 <= args.duplicates < 1:
        raise SystemExit("--duplicates is a share between 0 and 1, e.g. 0.3")

    with bench_database(args.database_url, keep=args.keep):
        from django.conf import settings
        from django.db import connection
        from django.test import Client

        from ascolto.accounts.services import workspace_create
        from ascolto.connectors.meta import services as meta_services
        from ascolto.connectors.twilio import services as twilio_services
        from ascolto.connectors.twilio.signature import compute
        from ascolto.core.actors import Actor
        from ascolto.inbox.models import Message

        settings.ALLOWED_HOSTS = ["*"]
        workspace = workspace_create(name="Bench", slug="bench")
        actor = Actor.system("bench")
        sms = twilio_services.twilio_account_create(
            workspace=workspace,
            name="SMS",
            account_sid="AC" + "1" * 32,
            auth_token=TWILIO_TOKEN,
            from_number="+390212345678",
            actor=actor,
        )
        wa = meta_services.meta_account_create(
            workspace=workspace,
            name="WhatsApp",
            platform="whatsapp",
            external_id="106540352242922",
            app_secret=META_SECRET,
            verify_token="v",  # noqa: S106
            access_token="t",  # noqa: S106
            actor=actor,
        )
        connection.close()

        rng = random.Random(args.seed)
        plan: list[tuple[str, int, int]] = []  # (kind, n, customer)
        for i in range(args.messages):
            if plan and rng.random() < args.duplicates:
                plan.append(plan[rng.randrange(max(0, len(plan) - 200), len(plan))])
            else:
                plan.append(("twilio" if i % 2 else "meta", i, rng.randrange(args.customers)))
        distinct = {(kind, n) for kind, n, _ in plan}

        latencies: list[float] = []
        by_kind: dict[bool, list[float]] = {True: [], False: []}  # repeat? -> latencies
        failures: list[str] = []
        lock = threading.Lock()
        chunks = [plan[t :: args.threads] for t in range(args.threads)]

        def worker(items: list[tuple[str, int, int]]) -> None:
            client = Client()
            own: list[float] = []
            seen: set[tuple[str, int]] = set()
            repeats: list[bool] = []
            for kind, n, customer in items:
                repeats.append((kind, n) in seen)
                seen.add((kind, n))
                start = time.perf_counter()
                if kind == "twilio":
                    path, form = twilio_delivery(sms.pk, n, customer)
                    signature = compute(TWILIO_TOKEN, f"http://testserver{path}", form.items())
                    response = client.post(path, form, headers={"X-Twilio-Signature": signature})
                else:
                    path, body = meta_delivery(wa.pk, n, customer)
                    digest = hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
                    response = client.post(
                        path,
                        body,
                        content_type="application/json",
                        headers={"X-Hub-Signature-256": f"sha256={digest}"},
                    )
                own.append(time.perf_counter() - start)
                if response.status_code >= 300:
                    with lock:
                        failures.append(f"{kind} {n}: HTTP {response.status_code}")
            connection.close()
            with lock:
                latencies.extend(own)
                for repeat, seconds in zip(repeats, own, strict=True):
                    by_kind[repeat].append(seconds)

        threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
        began = time.perf_counter()
        if args.threads == 1:
            worker(plan)  # in this thread, so a profiler sees the work
        else:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        elapsed = time.perf_counter() - began

        from django.test.utils import CaptureQueriesContext

        client = Client()
        path, form = twilio_delivery(sms.pk, args.messages + 1, 0)
        signature = compute(TWILIO_TOKEN, f"http://testserver{path}", form.items())
        queries = []
        for _ in range(2):
            with CaptureQueriesContext(connection) as captured:
                client.post(path, form, headers={"X-Twilio-Signature": signature})
            queries.append(len(captured))
        distinct.add(("twilio", args.messages + 1))
        stored = Message.objects.filter(workspace=workspace, kind="inbound")
        rows = stored.count()
        ids = stored.values_list("provider_id", flat=True).distinct().count()
        latencies.sort()
        ms = [x * 1000 for x in latencies]
        print(f"machine: {machine()}")
        print(f"database: {connection.vendor}, {args.threads} threads")
        print(
            f"deliveries: {len(plan)} ({len(plan) - len(distinct)} duplicates, "
            f"{(len(plan) - len(distinct)) / len(plan):.0%}), distinct messages: {len(distinct)}"
        )
        print(
            f"throughput: {len(plan) / elapsed:.0f} deliveries/s, "
            f"{len(distinct) / elapsed:.0f} new messages/s ({elapsed:.1f} s)"
        )
        print(
            f"latency per delivery: p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} "
            f"ms, p99 {percentile(ms, 99):.1f} ms"
        )
        for repeat, label in ((False, "first deliveries"), (True, "repeats seen by one thread")):
            values = sorted(x * 1000 for x in by_kind[repeat])
            print(
                f"  {label}: {len(values)}, p50 {percentile(values, 50):.1f} ms, "
                f"p95 {percentile(values, 95):.1f} ms"
            )
        ok = rows == ids == len(distinct) and not failures
        print(f"queries per Twilio delivery: new message {queries[0]}, repeat {queries[1]}")
        print(
            f"stored: {rows} rows, {ids} provider ids; failures: {len(failures)}"
            f"{' ' + '; '.join(failures[:5]) if failures else ''}"
        )
        print("check: nothing stored twice, nothing lost" if ok else "CHECK FAILED")
        if not ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
