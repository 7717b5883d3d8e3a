"""Survey submits over HTTP: `ascolto web --workers 2` on PostgreSQL + Redis, loaded by wrk, then
the intake worker. Called by `surveys_bench.py --http` inside its bench database."""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _setup import ROOT, machine, process_cpu

WEB_ARGS = ("--workers", "2", "--port")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")

# One wrk thread walks its own slice of the tokens; request 2k posts the score of token k,
# request 2k+1 its comment. With several connections per thread the two pages of one token
# can be in flight at once: the worker completes the response either way.
LUA = r"""
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local threads = tonumber(os.getenv("BENCH_THREADS"))
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  n = 0
  per = math.floor(#tokens / threads)
  base = (id - 1) * per
end

function request()
  local k = base + (math.floor(n / 2) % per) + 1
  local page = n % 2
  n = n + 1
  local token = tokens[k]
  local body
  if page == 0 then
    body = "q=score&score=" .. tostring(k % 11)
  else
    body = "q=why&why=Delivery+was+on+time%2C+thanks."
  end
  local headers = {}
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["X-Forwarded-For"] = "10." .. (k % 250) .. "." .. (math.floor(k / 250) % 250) .. ".1"
  return wrk.format("POST", "/s/" .. token .. "/", headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors_status=%d errors_timeout=%d\n",
    summary.requests, summary.errors.status, summary.errors.timeout))
  io.write(string.format("BENCH p50=%.2f p95=%.2f p99=%.2f max=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds of the PostgreSQL backends connected to the bench database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database])
        pids = [row[0] for row in cursor.fetchall()]
    return {pid: process_cpu(pid) for pid in pids}


def _wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise SystemExit(f"The web server did not listen on port {port}")


def _invitations(count: int) -> list[str]:
    from ascolto.core.actors import Actor
    from ascolto.core.models import Workspace
    from ascolto.customers.models import Customer
    from ascolto.surveys import services, tokens
    from ascolto.surveys.models import Invitation

    workspace = Workspace.objects.create(name="Bench", slug="bench")
    survey = services.survey_create(
        workspace=workspace,
        actor=Actor.system("bench"),
        kind="nps",
        name="nps",
        touchpoint="support",
        title="How did we do?",
    )
    customers = Customer.objects.bulk_create(
        (Customer(workspace=workspace, name=f"Customer {i}") for i in range(count)),
        batch_size=5000,
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('surveys_invitation', 'id'))"
            " FROM generate_series(1, %s)",
            [count],
        )
        ids = [row[0] for row in cursor.fetchall()]
    links = []
    invitations = []
    for pk, c in zip(ids, customers, strict=True):
        token, digest = tokens.make_token(pk)
        links.append(token)
        invitations.append(
            Invitation(
                pk=pk,
                workspace=workspace,
                survey=survey,
                customer=c,
                channel=Invitation.Channel.EMAIL,
                status=Invitation.Status.SENT,
                source_key=f"submit:{c.pk}",
                send_after=c.created_at,
                sent_at=c.created_at,
                token_digests=[digest],
            )
        )
    Invitation.objects.bulk_create(invitations, batch_size=5000)
    return links


def run(count: int, seconds: int, connections: int, port: int, database_url: str) -> None:
    import redis
    from django.db import connection

    from ascolto.customers.models import Activity
    from ascolto.surveys.models import Response, Submission
    from ascolto.surveys.services import intake

    database = database_url.rsplit("/", 1)[1]
    started = time.perf_counter()
    links = _invitations(count)
    print(f"{count:,} invitations with links in {time.perf_counter() - started:.0f} s")
    redis.Redis.from_url(REDIS_URL).flushdb()
    workdir = Path(tempfile.mkdtemp(prefix="bench-submits-"))
    (workdir / "tokens.txt").write_text("\n".join(links) + "\n")
    (workdir / "submit.lua").write_text(LUA)
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "ASCOLTO_HUEY_IMMEDIATE": "0",
        "ASCOLTO_DB_POOL_SIZE": "4",
        "ASCOLTO_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT / "src"),
    }
    connection.close()
    # BENCH_SERVER=wsgi: the same Django app as WSGI in uvicorn's thread pool (persistent
    # threads, so persistent connections) instead of `ascolto web` (ASGI).
    if os.environ.get("BENCH_SERVER") == "wsgi":
        env.pop("ASCOLTO_DB_POOL_SIZE")
        command = [sys.executable, "-m", "uvicorn", "ascolto.config.wsgi:application"]
        command += ["--interface", "wsgi", "--log-level", "warning", *WEB_ARGS, str(port)]
    else:
        command = [sys.executable, "-c", "from ascolto.cli import main; main()", "web"]
        command += [*WEB_ARGS, str(port)]
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "web.log").open("w"),
    )
    try:
        _wait_for_port(port)
        time.sleep(2)
        web = _children(server.pid)
        web_cpu = {pid: process_cpu(pid) for pid in web}
        pg_cpu = _backend_cpu(database)
        load_before = os.getloadavg()
        wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        threads = 2
        out = subprocess.run(
            [
                *("wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"),
                *("--timeout", "10s", "-s", str(workdir / "submit.lua")),
                f"http://127.0.0.1:{port}",
            ],
            env={**env, "BENCH_TOKENS": str(workdir / "tokens.txt"), "BENCH_THREADS": "2"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        wall = time.perf_counter() - wall
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        web_used = sum(process_cpu(pid) - web_cpu.get(pid, 0.0) for pid in web)
        pg_after = _backend_cpu(database)
        pg_used = sum(cpu - pg_cpu.get(pid, 0.0) for pid, cpu in pg_after.items())
        load_after = os.getloadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    wrk_used = (wrk_after.ru_utime + wrk_after.ru_stime) - (
        wrk_before.ru_utime + wrk_before.ru_stime
    )
    figures = dict(re.findall(r"(\w+)=([\d.]+)", "\n".join(re.findall(r"BENCH (.*)", out))))
    requests = int(figures["requests"])
    rows = Submission.objects.count()
    both: dict[int, set[str]] = {}
    for invitation_id, answers in Submission.objects.values_list("invitation_id", "answers"):
        both.setdefault(invitation_id, set()).update(answers)
    complete = sum(1 for keys in both.values() if {"score", "why"} <= keys)
    invitations = Submission.objects.values("invitation_id").distinct().count()
    print(f"\nHTTP, {seconds} s, wrk 2 threads x {connections} connections:")
    print(out.strip())
    print(
        f"requests {requests:,} ({requests / wall:,.0f}/s), errors {figures['errors_status']} "
        f"status / {figures['errors_timeout']} timeouts; submissions stored {rows:,} "
        f"for {invitations:,} invitations ({complete:,} with both pages): "
        f"{complete / wall:,.0f} complete responses/s"
    )
    print(
        f"latency ms p50 {figures['p50']} p95 {figures['p95']} p99 {figures['p99']} "
        f"max {figures['max']}"
    )
    print(
        f"CPU s over {wall:.1f} s wall: web {web_used:.1f}, PostgreSQL {pg_used:.1f}, "
        f"wrk {wrk_used:.1f}; load {load_before[0]:.1f} -> {load_after[0]:.1f}"
    )
    per = 1000 / max(requests, 1)
    print(
        f"CPU ms per request: web {web_used * per:.2f}, PostgreSQL {pg_used * per:.2f}, "
        f"wrk {wrk_used * per:.2f}, total {(web_used + pg_used + wrk_used) * per:.2f}"
    )

    # (b) the worker over everything accepted
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    pg_before = process_cpu(backend)
    from ascolto.core import outbox, realtime

    after_commit = {"push": 0.0, "enqueue": 0.0}

    def timed(name: str, func: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                after_commit[name] += time.perf_counter() - began

        return run

    realtime._send_many = timed("push", realtime._send_many)  # type: ignore[method-assign]
    outbox._enqueue = timed("enqueue", outbox._enqueue)  # type: ignore[method-assign]
    cpu = time.process_time()
    wall = time.perf_counter()
    done = 0
    batches = 0
    while True:
        n = intake.intake_process(limit=intake.BATCH)
        if not n:
            break
        done += n
        batches += 1
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    pg_used = process_cpu(backend) - pg_before
    completed = Response.objects.filter(completed=True).count()
    print(
        f"\nworker: {done:,} submissions in {batches} batches of up to {intake.BATCH} in "
        f"{wall:.1f} s: {completed / wall:,.0f} responses completed/s "
        f"(worker CPU {cpu:.1f} s, its PostgreSQL backend {pg_used:.1f} s; after commit: "
        f"realtime pushes {after_commit['push']:.1f} s, outbox enqueues "
        f"{after_commit['enqueue']:.1f} s)"
    )
    expected = complete
    activities = Activity.objects.filter(kind="survey.response")
    from ascolto.core.models import OutboxEvent

    events = OutboxEvent.objects.filter(name="surveys.response.submitted")
    checks = {
        "responses completed": completed,
        "timeline entries": activities.count(),
        "distinct timeline entries": activities.values("source_id").distinct().count(),
        "outbox events": events.count(),
        "pending submissions": Submission.objects.filter(processed_at__isnull=True).count(),
    }
    print(f"expected {expected:,} complete responses; {checks}")
    ok = (
        completed == expected
        and checks["timeline entries"] == checks["distinct timeline entries"] == expected
        and checks["outbox events"] == expected
        and checks["pending submissions"] == 0
    )
    print("exactly once: " + ("yes" if ok else "NO"))
    print(machine())
