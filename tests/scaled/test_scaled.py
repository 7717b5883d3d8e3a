"""The scaled configuration as it is deployed: two `ascolto web` processes and one
`ascolto worker` sharing PostgreSQL (a fresh database) and Redis.

A customer created through web A's API gives an outbox event that only the worker dispatches,
and a realtime event that reaches a browser connected to web B.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.core.processes import (
    Browser,
    Service,
    free_ports,
    product_env,
    receive_event,
    run,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "correct horse battery"


def _outbox_dispatched(database_url: str, event: str) -> list[bool]:
    with psycopg.connect(database_url) as db:
        rows = db.execute(
            "SELECT dispatched_at IS NOT NULL FROM core_outboxevent WHERE name = %s", (event,)
        ).fetchall()
    return [bool(row[0]) for row in rows]


def test_two_web_processes_and_a_worker_share_postgresql_and_redis(
    fresh_database: str, redis_url: str, tmp_path: Path
):
    started = time.monotonic()
    env = product_env(
        DATABASE_URL=fresh_database,
        REDIS_URL=redis_url,
        ASCOLTO_REDIS_PREFIX=f"ascolto-scaled-{uuid.uuid4().hex[:8]}",
        SECRET_KEY="scaled-" + uuid.uuid4().hex * 2,
        ASCOLTO_DATA_DIR=str(tmp_path / "data"),
    )
    migrated = run(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr

    port_a, port_b = free_ports(2)
    web_a = Service(["web", "--port", str(port_a)], env, tmp_path / "web-a.log")
    web_b = Service(["web", "--port", str(port_b)], env, tmp_path / "web-b.log")
    services = [web_a, web_b]
    try:
        admin = run(["createadmin", "--username", "ada", "--password", PASSWORD], env)
        assert admin.returncode == 0, admin.stderr
        a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        web_a.wait_for_http(a + "/healthz")
        web_b.wait_for_http(b + "/healthz")

        browser = Browser(a)
        browser.login("ada", PASSWORD)
        with browser.websocket(b) as feed_on_b:
            status, customer = browser.post_json("/api/v1/customers", {"name": "Noa Cohen"})
            assert status == 201, customer
            pushed = receive_event(feed_on_b, "customers.activity.created")
        assert pushed["payload"]["customer_id"] == customer["id"]

        # The web processes only enqueue: nothing is dispatched until a worker runs.
        assert _outbox_dispatched(fresh_database, "customers.customer.created") == [False]
        worker = Service(["worker", "--workers", "2"], env, tmp_path / "worker.log")
        services.append(worker)
        # Dispatched from the queue at once, or by the outbox sweeper (events older than 30 s, at
        # each minute) if the enqueue after commit was lost: either way within two minutes.
        deadline = time.monotonic() + 150
        while _outbox_dispatched(fresh_database, "customers.customer.created") != [True]:
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.3)

        stops = {
            "web A": web_a.stop(signal.SIGINT),
            "web B": web_b.stop(signal.SIGTERM),
            "worker": worker.stop(signal.SIGTERM),
        }
        assert stops == {"web A": 0, "web B": 0, "worker": 0}, [s.output() for s in services]
    finally:
        for service in services:
            service.kill()
    for service in services:
        assert "Traceback" not in service.output(), service.output()
    print(f"scaled configuration checked in {time.monotonic() - started:.1f}s")
