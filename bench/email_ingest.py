"""Benchmark: email ingestion of the shared corpus (../shared/datasets/email_corpus).

    python bench/email_ingest.py [--rounds 4] [--corpus PATH] [--database-url URL] [--keep]

Creates its own database (see _setup.py), a workspace and a mailbox, then measures on the
corpus's RFC 5322 messages (each round gives every message a new Message-ID, so each round
stores new mail):
- parsing alone (MIME, charsets, quote trimming, HTML sanitising): messages/s and MB/s;
- parsing + storing, one transaction per message as the IMAP poll and the HTTP endpoint do
  (customer by identity, threading, inbox message, attachments, raw original): messages/s,
  p50/p95 latency;
- redelivery of already-stored mail (the duplicate path): messages/s.
CPU time of this process per message is printed too: on a shared, loaded machine it is the
fairer measure of the code (the database server's CPU is not included).
Prints the figures and the machine they were measured on.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import ROOT, add_database_argument, bench_database, machine, peak_rss_mb, percentile

DEFAULT_CORPUS = ROOT.parent / "shared" / "datasets" / "email_corpus"


def load(corpus: Path) -> list[bytes]:
    with (corpus / "manifest.csv").open(newline="") as handle:
        return [
            (corpus / row["path"]).read_bytes()
            for row in csv.DictReader(handle)
            if row["kind"] == "rfc5322"
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="passes over the corpus")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    add_database_argument(parser)
    args = parser.parse_args()
    if not (args.corpus / "manifest.csv").exists():
        raise SystemExit(f"No corpus at {args.corpus} (expected manifest.csv there).")
    messages = load(args.corpus)

    with bench_database(args.database_url, keep=args.keep):
        from django.db import transaction

        from ascolto.connectors.email import services
        from ascolto.connectors.email.models import EmailMessageRecord
        from ascolto.connectors.email.parsing import _normalise, parse_email
        from ascolto.core.actors import Actor
        from ascolto.core.models import Workspace

        workspace = Workspace.objects.create(name="Bench", slug="bench-email")
        with transaction.atomic():
            mailbox = services.mailbox_create(
                workspace=workspace,
                name="Support",
                address="support@bench.example",
                actor=Actor.system("bench"),
            )
        rounds = [
            [
                b"Message-ID: <bench.%d.%d@corpus.example>\r\n" % (r, i) + _normalise(raw)
                for i, raw in enumerate(messages)
            ]
            for r in range(args.rounds)
        ]
        total_bytes = sum(len(m) for m in messages) * args.rounds

        start, cpu = time.perf_counter(), time.process_time()
        for batch in rounds:
            for raw in batch:
                parse_email(raw)
        parse_seconds = time.perf_counter() - start
        parse_cpu = time.process_time() - cpu

        latencies: list[float] = []
        start, cpu = time.perf_counter(), time.process_time()
        for batch in rounds:
            for raw in batch:
                began = time.perf_counter()
                with transaction.atomic():
                    services.email_ingest(mailbox=mailbox, raw=raw, source="bench")
                latencies.append(time.perf_counter() - began)
        store_seconds = time.perf_counter() - start
        store_cpu = time.process_time() - cpu
        stored = EmailMessageRecord.objects.filter(mailbox=mailbox).count()

        start = time.perf_counter()
        for raw in rounds[0]:
            with transaction.atomic():
                outcome = services.email_ingest(mailbox=mailbox, raw=raw, source="bench")
            assert not outcome.created
        duplicate_seconds = time.perf_counter() - start

        count = len(messages) * args.rounds
        latencies.sort()
        own_rss, _children = peak_rss_mb()
        print(f"machine: {machine()}")
        print(f"database: {args.database_url.split('@')[-1]}")
        print(
            f"corpus: {len(messages)} messages, {sum(len(m) for m in messages) / 1e6:.2f} MB;"
            f" {args.rounds} rounds = {count} messages"
        )
        print(
            f"parse only:     {count / parse_seconds:8.0f} messages/s"
            f"  {total_bytes / 1e6 / parse_seconds:6.1f} MB/s"
            f"  CPU {parse_cpu / count * 1000:.1f} ms/message"
        )
        print(
            f"parse + store:  {count / store_seconds:8.0f} messages/s"
            f"  p50 {percentile(latencies, 50) * 1000:.1f} ms"
            f"  p95 {percentile(latencies, 95) * 1000:.1f} ms"
            f"  max {latencies[-1] * 1000:.1f} ms"
            f"  CPU of this process {store_cpu / count * 1000:.1f} ms/message"
            f"  ({stored} records stored)"
        )
        print(f"redelivery:     {len(rounds[0]) / duplicate_seconds:8.0f} messages/s (no-ops)")
        print(f"peak RSS: {own_rss:.0f} MB")


if __name__ == "__main__":
    main()
