"""The commands a new user runs, as real processes on a fresh data directory."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.core.processes import Browser, Service, product_env, receive_event, run

pytestmark = pytest.mark.slow


def _dispatched(database: Path, event: str) -> list[bool]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute(
            "SELECT dispatched_at IS NOT NULL FROM core_outboxevent WHERE name = ?", (event,)
        ).fetchall()
    return [bool(row[0]) for row in rows]


def test_serve_on_a_fresh_data_dir(tmp_path, free_port):
    """`ascolto serve`: creates the database, prints a working login, serves the pages, runs
    background jobs in-process, pushes realtime events, and stops cleanly on Ctrl-C."""
    data_dir = tmp_path / "data"
    env = product_env(ASCOLTO_DATA_DIR=str(data_dir))
    server = Service(["serve", "--port", str(free_port), "--no-demo"], env, tmp_path / "serve.log")
    try:
        base = f"http://127.0.0.1:{free_port}"
        username = server.wait_for_output(r"Username:\s+(\S+)").group(1)
        password = server.wait_for_output(r"Password:\s+(\S+)").group(1)
        server.wait_for_http(base + "/healthz")
        assert f"Log in at  {base}/accounts/login/" in server.output()

        browser = Browser(base)
        for path in ("/accounts/login/", "/admin/login/", "/api/v1/docs", "/api/v1/openapi.json"):
            status, _ = browser.get(path)
            assert status == 200, path
        status, css = browser.get("/static/admin/css/base.css")
        assert status == 200
        assert "body" in css

        browser.login(username, password)
        status, _ = browser.get("/admin/")
        assert status == 200
        with browser.websocket() as feed:
            status, body = browser.post_json("/api/v1/customers", {"name": "Dana Levi"})
            assert status == 201, body
            event = receive_event(feed, "customers.activity.created")
        assert event["payload"]["customer_id"] == body["id"]

        database = data_dir / "ascolto.sqlite3"
        deadline = time.monotonic() + 60
        while _dispatched(database, "customers.customer.created") != [True]:
            assert time.monotonic() < deadline, "the in-process worker never dispatched"
            time.sleep(0.3)
    finally:
        code = server.stop(signal.SIGINT)

    assert code == 0, server.output()
    assert "Ascolto stopped." in server.output()
    assert "Traceback" not in server.output()


def test_first_commands_on_a_fresh_data_dir(tmp_path):
    """check → migrate → check → createadmin, as the README's scaled section has them."""
    env = product_env(ASCOLTO_DATA_DIR=str(tmp_path))

    before = run(["check"], env)
    assert before.returncode == 1
    assert "not applied; run `ascolto migrate`" in before.stdout

    migrated = run(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr

    after = run(["check"], env)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "[ ok ] Migrations: all applied" in after.stdout

    admin = run(["createadmin", "--username", "ada", "--password", "correct horse battery"], env)
    assert admin.returncode == 0, admin.stderr
    assert "Created administrator 'ada'" in admin.stdout
