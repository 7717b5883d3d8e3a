"""CPU per component for the ingest bench (bench/ingest_bench.py): its web processes, its
workers, the PostgreSQL backends of its database, Redis and the load generator itself, and
how far the workers have come."""

from __future__ import annotations

import time
from dataclasses import dataclass

from _setup import pids_named, process_cpu


@dataclass
class CpuMeter:
    """CPU time per component over a phase: the web processes, the worker, the PostgreSQL
    backends serving the bench database, Redis (shared with other users of the machine) and
    this process (load generator and console socket)."""

    web: list[int]
    worker: list[int]
    database: str
    admin_url: str = ""

    def progress(self) -> dict[str, int]:
        """How far the workers are: messages stored from the intake, outbox events
        dispatched, conversations assigned (psycopg directly, as `snapshot`)."""
        if not self.database:
            return {}
        import psycopg

        url = self.admin_url.rsplit("/", 1)[0] + "/" + self.database
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM api_channel_inboundintake"
                "        WHERE processed_at IS NOT NULL),"
                " (SELECT count(*) FROM core_outboxevent WHERE dispatched_at IS NOT NULL),"
                " (SELECT count(*) FROM inbox_conversation WHERE assignee_id IS NOT NULL)"
            ).fetchone()
        assert row is not None
        return {"stored": row[0], "events dispatched": row[1], "routed": row[2]}

    def snapshot(self) -> dict[str, dict[int, float]]:
        backends: list[int] = []
        if self.database:
            # psycopg directly: this runs inside the load generator's event loop, where
            # Django's ORM refuses to work.
            import psycopg

            try:
                with psycopg.connect(self.admin_url, autocommit=True) as conn:
                    rows = conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database]
                    ).fetchall()
                backends = [row[0] for row in rows]
            except psycopg.OperationalError as exc:
                print(f"  (PostgreSQL CPU not measured: {exc})")
        return {
            "web": {pid: process_cpu(pid) for pid in self.web},
            "worker": {pid: process_cpu(pid) for pid in self.worker},
            "postgres": {pid: process_cpu(pid) for pid in backends},
            "redis": {pid: process_cpu(pid) for pid in pids_named("redis-server")},
            "load generator": {0: time.process_time()},
        }

    @staticmethod
    def spent(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        return {
            part: sum(cpu - before[part].get(pid, 0.0) for pid, cpu in pids.items())
            for part, pids in after.items()
        }


def report_cpu(spent: dict[str, float], deliveries: int, elapsed: float) -> None:
    """CPU per delivery by component, and what it would allow on two cores of our own."""
    if not deliveries:
        return
    per = {part: seconds * 1000 / deliveries for part, seconds in spent.items()}
    shares = ", ".join(f"{part} {ms:.1f}" for part, ms in per.items())
    print(
        f"  CPU per delivery (ms): {shares}; "
        f"these processes used {sum(spent.values()) / elapsed:.2f} of the 2 cores"
    )
    serving = per["web"] + per["postgres"] + per["redis"]
    if serving:
        print(
            f"  serving (web + PostgreSQL + Redis) {serving:.1f} CPU ms per delivery: on 2 "
            f"dedicated cores at most ~{2000 / serving:.0f} msg/s (extrapolated, not measured)"
        )
