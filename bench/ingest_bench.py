"""Benchmark: inbound message ingest through the public API path, with duplicate deliveries.

    python bench/ingest_bench.py [--web 2] [--workers 1] [--worker-threads 1] [--connections 16]
                                 [--probe 20] [--duration 30] [--rate N] [--customers 2000]
                                 [--duplicates 0.3] [--bulk 1] [--db-connections MODE]
                                 [--no-listen] [--database-url URL] [--keep]

Creates its own database (bench/_setup.py; default `ascolto_ingest_bench` on the local
PostgreSQL), a workspace with an API channel inbox (least-loaded routing, five online agents)
and an API token, then starts the scaled configuration as separate processes on 127.0.0.1:
--web uvicorn processes of the product's ASGI app sharing one port (SO_REUSEPORT, as
`uvicorn --workers` shares its socket) and --workers `ascolto worker` processes (the API
channel's intake: storing accepted messages; the outbox: routing and SLA),
all on PostgreSQL and Redis. With `--database-url sqlite:///...` it runs the embedded
configuration instead (one web process, SQLite, the SQLite job queue, no Redis).

This process is the load generator (asyncio, HTTP/1.1 keep-alive connections of its own, no
dependency): every request is `POST /api/v1/channels/api/{inbox}/messages` for a customer drawn
from --customers, and a --duplicates share of the deliveries repeat a recent provider id, as a
provider retrying does (--bulk N: N messages per request to `.../messages/bulk`). An agent
console socket (/ws/events/) counts the pushes. --db-connections: the web processes' database
connections as configured, closed after each request, or a psycopg pool per process.

1. Probe (--probe s, closed loop): --connections connections send back to back; the sustained
   rate is the capacity of the server.
2. Run (--duration s, open loop): requests are due at a fixed --rate (default: 80% of the
   probe's rate); latency runs from when a request was due, so queueing is counted.
3. Checks: every provider id acknowledged is stored exactly once (one row per id in the
   database, one 201 per id, every repeat answered 200 with the same message id), nothing
   unacknowledged went missing, and the intake and outbox backlogs drain (stored, routed).
   The pushes' latency (first send -> the agent socket's event) is the end-to-end figure: an
   acknowledgement means "durably accepted", not yet "stored, routed, pushed".

Also printed: the CPU each component spent per delivery (web processes, worker, the PostgreSQL
backends of the bench database, Redis, this process), from /proc, and what that allows on two
cores of its own — an extrapolation, labelled as such, for a machine shared with other work.

Goal (issue #3): >= 1,000 msg/s sustained and p99 <= 100 ms on 2 cores. The load average is
printed with the figures: the load generator and the servers share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _ingest_meter import CpuMeter, report_cpu
from _setup import add_database_argument, bench_database, machine, percentile, server_settings

PATH = "/api/v1/channels/api/{inbox}/messages"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ascolto_ingest_bench"


# --- URLs when the product does not mount the inbox and API channel routers yet -------------


def __getattr__(name: str) -> Any:
    """`urlpatterns` of this module, built on first use (Django resolves ROOT_URLCONF lazily)."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import path

    from ascolto.config.api import AscoltoAPI
    from ascolto.config.urls import urlpatterns as product_urls
    from ascolto.connectors.api_channel.api import router as api_channel_router
    from ascolto.core.api import JsonParser, install_problem_handlers
    from ascolto.inbox.api import router as inbox_router

    api = AscoltoAPI(
        title="Ascolto API (ingest bench)",
        version="1-bench",
        urls_namespace="ingest-bench-api",
        parser=JsonParser(),
    )
    install_problem_handlers(api)
    api.add_router("", inbox_router)
    api.add_router("", api_channel_router)
    patterns = [path("api/v1/", api.urls), *product_urls]
    globals()["urlpatterns"] = patterns
    return patterns


def _mount_if_needed() -> str:
    from django.conf import settings
    from django.urls import resolve

    if resolve(PATH.format(inbox=1)).url_name == "unknown":
        settings.ROOT_URLCONF = "ingest_bench"
        return "bench URLconf (routers not mounted in config/api.py yet)"
    return "product URLconf"


# --- Set-up ---------------------------------------------------------------------------------


def prepare(agents: int) -> dict[str, Any]:
    """The workspace, online agents (one signed in for the console socket), the API inbox and
    a token of an integration user."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from ascolto.accounts import services as account_services
    from ascolto.accounts.models import Membership, User
    from ascolto.connectors.api_channel import services
    from ascolto.core.actors import Actor
    from ascolto.core.models import Workspace
    from ascolto.inbox.models import AgentProfile

    workspace = Workspace.objects.create(name="Bench shop", slug=f"bench-{uuid.uuid4().hex[:8]}")
    people = []
    for n in range(agents):
        user = User.objects.create_user(username=f"agent{n}-{workspace.slug}", first_name="Sara")
        Membership.objects.create(workspace=workspace, user=user, role="agent")
        AgentProfile.objects.create(
            workspace=workspace, user=user, availability="online", capacity={"*": 10**6}
        )
        people.append(user)
    system = User.objects.create_user(username=f"shop-{workspace.slug}")
    Membership.objects.create(workspace=workspace, user=system, role="agent")
    _, token = account_services.api_token_create(
        workspace=workspace, user=system, name="shop back end", actor=Actor.for_user(system)
    )
    inbox, _ = services.api_inbox_create(
        workspace=workspace, name="Shop back end", actor=Actor.system("bench")
    )
    session = SessionStore()
    session[SESSION_KEY] = str(people[0].pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = people[0].get_session_auth_hash()
    session.create()
    return {"token": token, "inbox": inbox.pk, "session": session.session_key}


DB_CONNECTIONS = ("as-configured", "no-persist", "pool")


def _configure_connections(mode: str) -> None:
    """How the web process holds database connections (before any is opened).

    Under ASGI Django runs each request's sync code in a thread of its own, so persistent
    connections (CONN_MAX_AGE > 0, as configured) are per request thread: a new connection per
    request, left open until garbage-collected. `no-persist` closes it at the end of the
    request; `pool` shares a psycopg pool per process (needs psycopg-pool)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if mode == "as-configured" or database["ENGINE"] != "django.db.backends.postgresql":
        return
    database["CONN_MAX_AGE"] = 0
    if mode == "pool":
        database.setdefault("OPTIONS", {})["pool"] = {"min_size": 4, "max_size": 12, "timeout": 30}


def serve(port: int) -> None:
    """A web process: the product's ASGI app on a SO_REUSEPORT socket shared with its peers."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ascolto.config.settings")
    _configure_connections(os.environ.get("INGEST_BENCH_DB_CONNECTIONS", "as-configured"))
    django.setup()
    import uvicorn

    print(f"web process {os.getpid()}: {_mount_if_needed()}", flush=True)
    from ascolto.config.asgi import application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(4096)
    config = uvicorn.Config(
        application,
        lifespan="on",
        log_level="warning",
        access_log=False,
        ws="websockets-sansio",
        backlog=4096,
    )
    # uvicorn re-raises the signal that stopped it once it has shut down cleanly.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 300  # a busy shared machine starts Django slowly
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise SystemExit("A web process did not start.") from None
            time.sleep(0.2)


# --- The load generator ---------------------------------------------------------------------


class Connection:
    """One HTTP/1.1 keep-alive connection; enough of a client for JSON POSTs."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = (
            f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST and read the answer. A kept-alive connection the server closed while idle
        (uvicorn's keep-alive timeout) is reopened and the request sent again, as HTTP
        clients do; the request never reached the server, so nothing is counted twice."""
        reused = self.writer is not None
        try:
            return await self._exchange(path, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not reused:
                raise
            await self.close()
            return await self._exchange(path, body)

    async def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(
            b"POST "
            + path.encode()
            + b" HTTP/1.1\r\n"
            + self.head
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        # The status line and headers in one read (a readline each cost the load generator
        # ~10 % of its CPU, on the same cores as the servers it measures).
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            await self.close()
            raise ConnectionResetError("connection closed by the server") from exc
        status_line, *lines = head[:-4].split(b"\r\n")
        status = int(status_line.split()[1])
        length, close = 0, False
        for line in lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and b"close" in value.lower():
                close = True
        data = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


@dataclass
class Workload:
    """Messages for many customers; a share of the deliveries repeat a recent provider id."""

    customers: int
    duplicates: float
    rng: random.Random = field(default_factory=lambda: random.Random(3))
    bodies: dict[str, bytes] = field(default_factory=dict)
    recent: list[str] = field(default_factory=list)
    seq: int = 0
    batch: int = 1

    def next(self) -> tuple[str, bytes, bool]:
        if self.recent and self.rng.random() < self.duplicates:
            count = len(self.recent)
            provider_id = self.recent[self.rng.randrange(max(0, count - 2000), count)]
            return provider_id, self.bodies[provider_id], True
        self.seq += 1
        provider_id = f"m-{self.seq}"
        customer = self.rng.randrange(self.customers)
        body = json.dumps(
            {
                "provider_id": provider_id,
                "customer": {
                    "kind": "email",
                    "value": f"customer{customer}@bench.example",
                    "name": f"Customer {customer}",
                },
                "text": f"[{provider_id}] Hello, where is my order {customer}-{self.seq}?",
            }
        ).encode()
        self.bodies[provider_id] = body
        self.recent.append(provider_id)
        return provider_id, body, False


@dataclass
class Result:
    phase: str
    provider_id: str
    duplicate: bool
    started: float
    latency_ms: float
    status: int
    message_id: int | None


@dataclass
class Pushes:
    received: int = 0
    latency_ms: list[float] = field(default_factory=list)
    first_sent: dict[str, float] = field(default_factory=dict)
    # Provider id -> first send -> push (ms), and the ids first sent in the open-loop run.
    by_id: dict[str, float] = field(default_factory=dict)
    run_ids: set[str] = field(default_factory=set)


async def one(
    conn: Connection,
    path: str,
    workload: Workload,
    phase: str,
    due: float,
    results: list[Result],
    pushes: Pushes,
) -> None:
    """One request: a message, or with --bulk a batch of them (each counted as a delivery)."""
    batch = [workload.next() for _ in range(workload.batch)]
    started = time.perf_counter()
    for provider_id, _, _ in batch:
        if provider_id not in pushes.first_sent:
            pushes.first_sent[provider_id] = started
            if phase == "run":
                pushes.run_ids.add(provider_id)
    outcome: list[tuple[int, int | None]] = [(0, None)] * len(batch)
    try:
        if workload.batch == 1:
            status, data = await conn.post(path, batch[0][1])
            message_id = json.loads(data).get("message_id") if status in (200, 201) else None
            outcome = [(status, message_id)]
        else:
            body = b'{"items": [' + b",".join(item for _, item, _ in batch) + b"]}"
            status, data = await conn.post(path + "/bulk", body)
            if status == 200:
                codes = {"created": 201, "duplicate": 200, "error": 422}
                outcome = [
                    (codes[row["status"]], row["message_id"]) for row in json.loads(data)["results"]
                ]
            else:
                outcome = [(status, None)] * len(batch)
    except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
        await conn.close()
    latency = (time.perf_counter() - due) * 1000
    for (provider_id, _, duplicate), (status, message_id) in zip(batch, outcome, strict=True):
        results.append(Result(phase, provider_id, duplicate, started, latency, status, message_id))


async def closed_loop(
    port: int,
    setup: dict[str, Any],
    workload: Workload,
    seconds: float,
    connections: int,
    results: list[Result],
    pushes: Pushes,
) -> float:
    path = PATH.format(inbox=setup["inbox"])
    end = time.perf_counter() + seconds

    async def client() -> None:
        conn = Connection(port, setup["token"])
        while time.perf_counter() < end:
            await one(conn, path, workload, "probe", time.perf_counter(), results, pushes)
        await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return time.perf_counter() - start


async def open_loop(
    port: int,
    setup: dict[str, Any],
    workload: Workload,
    seconds: float,
    rate: float,
    results: list[Result],
    pushes: Pushes,
    max_connections: int = 512,
) -> float:
    """Requests due at a fixed rate, each on a free connection of a pool (connected on first
    use; most recently used first, so only as many are opened as the server needs)."""
    path = PATH.format(inbox=setup["inbox"])
    pool: asyncio.LifoQueue[Connection] = asyncio.LifoQueue()
    for _ in range(max_connections):
        pool.put_nowait(Connection(port, setup["token"]))
    tasks: set[asyncio.Task[None]] = set()

    async def send(due: float) -> None:
        conn = await pool.get()
        try:
            await one(conn, path, workload, "run", due, results, pushes)
        finally:
            pool.put_nowait(conn)

    start = time.perf_counter()
    requests = rate / workload.batch
    for n in range(int(seconds * requests)):
        due = start + n / requests
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.get_running_loop().create_task(send(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        await pool.get_nowait().close()
    return elapsed


async def listen(port: int, session: str, pushes: Pushes, stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    agent = await connect(
        f"ws://127.0.0.1:{port}/ws/events/",
        origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
        additional_headers={"Cookie": f"sessionid={session}"},
        ping_interval=None,
        max_queue=None,
    )

    async def read() -> None:
        async for raw in agent:
            now = time.perf_counter()
            event = json.loads(raw)
            if event.get("event") != "inbox.message.created":
                continue
            pushes.received += 1
            text = event["payload"]["message"]["text"]
            provider_id = text[1 : text.find("]")]
            sent = pushes.first_sent.get(provider_id)
            if sent is not None:
                pushes.latency_ms.append((now - sent) * 1000)
                pushes.by_id.setdefault(provider_id, (now - sent) * 1000)

    reader = asyncio.get_running_loop().create_task(read())
    await stop.wait()
    # Pushes of the last requests: wait until none has come for 3 s (at most 30 s).
    deadline = time.perf_counter() + 30
    seen, quiet_since = -1, time.perf_counter()
    while time.perf_counter() < deadline and time.perf_counter() - quiet_since < 3:
        if pushes.received != seen:
            seen, quiet_since = pushes.received, time.perf_counter()
        await asyncio.sleep(0.2)
    reader.cancel()
    await agent.close()


# --- CPU accounting -------------------------------------------------------------------------


# --- Reporting and checks -------------------------------------------------------------------


def summarise(name: str, results: list[Result], elapsed: float, load: tuple[float, ...]) -> float:
    ok = [r for r in results if r.status in (200, 201)]
    lat = sorted(r.latency_ms for r in ok)
    statuses = Counter(r.status for r in results)
    rate = len(ok) / elapsed if elapsed else 0.0
    new = sum(1 for r in ok if r.status == 201)
    print(
        f"{name}: {len(results)} deliveries in {elapsed:.1f} s -> {rate:.0f} msg/s sustained "
        f"({new / elapsed:.0f}/s new, {(len(ok) - new) / elapsed:.0f}/s duplicates); "
        f"statuses {dict(sorted(statuses.items()))}; load average {load[0]:.2f}"
    )
    if lat:
        print(
            f"  latency p50 {percentile(lat, 50):6.1f} ms   p95 {percentile(lat, 95):6.1f} ms   "
            f"p99 {percentile(lat, 99):6.1f} ms   max {lat[-1]:6.1f} ms"
        )
    return rate


def check(results: list[Result], inbox_id: int) -> bool:
    """Exactly once: one row per acknowledged provider id, one 201 each, repeats agree."""
    from django.db.models import Count

    from ascolto.inbox.models import Message

    acknowledged: dict[str, set[int]] = defaultdict(set)
    created = Counter[str]()
    sent = {r.provider_id for r in results}
    for r in results:
        if r.status in (200, 201) and r.message_id is not None:
            acknowledged[r.provider_id].add(r.message_id)
            if r.status == 201:
                created[r.provider_id] += 1
    rows = dict(
        Message.objects.filter(inbox_id=inbox_id).values_list("provider_id").annotate(n=Count("id"))
    )
    twice = {pid: n for pid, n in rows.items() if n > 1}
    split = {pid: ids for pid, ids in acknowledged.items() if len(ids) > 1}
    created_twice = {pid: n for pid, n in created.items() if n > 1}
    lost = [pid for pid in acknowledged if pid not in rows]
    strangers = [pid for pid in rows if pid not in sent]
    unacknowledged = sent - set(acknowledged)
    duplicates = sum(1 for r in results if r.duplicate)
    print(
        f"checks: {len(sent)} provider ids sent in {len(results)} deliveries "
        f"({duplicates / max(1, len(results)):.0%} repeats); {len(rows)} rows stored; "
        f"{len(acknowledged)} ids acknowledged, {len(unacknowledged)} never acknowledged"
    )
    problems = {
        "ids stored twice": twice,
        "ids answered with two message ids": split,
        "ids answered 201 twice": created_twice,
        "acknowledged ids not stored": lost,
        "rows no request sent": strangers,
    }
    for label, found in problems.items():
        if found:
            print(f"  FAILED: {len(found)} {label}, e.g. {list(found)[:5]}")
    ok = not any(problems.values())
    print("  exactly once: " + ("yes, one row per acknowledged provider id" if ok else "NO"))
    return ok


def drain(timeout: float) -> None:
    from django.db import connections

    from ascolto.connectors.api_channel.models import InboundIntake
    from ascolto.core.models import OutboxEvent
    from ascolto.inbox.models import Conversation

    connections.close_all()
    start = time.perf_counter()
    # Accepted messages the intake worker has still to store (decision 0012).
    pending = InboundIntake.objects.filter(processed_at__isnull=True).count()
    print(f"intake backlog when the load stopped: {pending} accepted messages not stored")
    while pending and time.perf_counter() - start < timeout:
        time.sleep(0.5)
        pending = InboundIntake.objects.filter(processed_at__isnull=True).count()
    state = "stored" if not pending else f"{pending} still pending"
    print(f"  {state} after {time.perf_counter() - start:.1f} s")
    backlog = OutboxEvent.objects.filter(dispatched_at__isnull=True).count()
    print(f"outbox backlog when the load stopped: {backlog} events")
    while backlog and time.perf_counter() - start < timeout:
        time.sleep(1)
        backlog = OutboxEvent.objects.filter(dispatched_at__isnull=True).count()
    waited = time.perf_counter() - start
    total = Conversation.objects.count()
    routed = Conversation.objects.filter(assignee__isnull=False).count()
    state = "drained" if not backlog else f"{backlog} events still pending"
    print(f"  {state} after {waited:.0f} s; {routed} of {total} conversations assigned by routing")


async def load(
    args: argparse.Namespace, port: int, setup: dict[str, Any], meter: CpuMeter
) -> tuple[list[Result], float]:
    """Run the phases; returns every result and the rate offered in the open-loop run."""
    workload = Workload(args.customers, args.duplicates, batch=args.bulk)
    pushes = Pushes()
    stop = asyncio.Event()
    listener = (
        asyncio.get_running_loop().create_task(listen(port, setup["session"], pushes, stop))
        if args.listen
        else None
    )
    await asyncio.sleep(1)
    warm: list[Result] = []
    await closed_loop(port, setup, workload, 3, 4, warm, pushes)  # connections, caches, JIT-free

    results: list[Result] = []
    rate = args.rate
    if args.probe:
        probe: list[Result] = []
        before = meter.snapshot()
        elapsed = await closed_loop(
            port, setup, workload, args.probe, args.connections, probe, pushes
        )
        spent = CpuMeter.spent(before, meter.snapshot())
        measured = summarise(
            f"probe ({args.connections} connections, closed loop)", probe, elapsed, os.getloadavg()
        )
        report_cpu(spent, len(probe), elapsed)
        results += probe
        rate = rate or max(10.0, 0.8 * measured)
    rate = rate or 200.0
    run: list[Result] = []
    before = meter.snapshot()
    progress = meter.progress()
    received = pushes.received
    elapsed = await open_loop(
        port, setup, workload, args.duration, rate, run, pushes, args.max_open
    )
    spent = CpuMeter.spent(before, meter.snapshot())
    summarise(f"run (open loop, {rate:.0f} msg/s offered)", run, elapsed, os.getloadavg())
    report_cpu(spent, len(run), elapsed)
    if progress:
        after = meter.progress()
        gained = {part: after[part] - progress[part] for part in after}
        done = ", ".join(f"{part} {n} ({n / elapsed:.0f}/s)" for part, n in gained.items())
        new = sum(1 for r in run if r.status == 201)
        print(
            f"  during the run: {new} new messages accepted ({new / elapsed:.0f}/s); {done}; "
            f"pushes {pushes.received - received} ({(pushes.received - received) / elapsed:.0f}/s)"
        )
    results += run
    stop.set()
    if listener is not None:
        await listener
        created = sum(1 for r in warm + results if r.status == 201)
        lat = sorted(pushes.latency_ms)
        print(
            f"pushes: {pushes.received} inbox.message.created events reached the agent console "
            f"for {created} new messages; first send -> push p50 "
            f"{percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms"
        )
        new_in_run = {r.provider_id for r in run if r.status == 201}
        run_lat = sorted(pushes.by_id[p] for p in new_in_run if p in pushes.by_id)
        if run_lat:
            print(
                f"  new messages of the open-loop run: {len(run_lat)} of {len(new_in_run)} "
                f"pushed; first send -> push p50 {percentile(run_lat, 50):.1f} ms, "
                f"p95 {percentile(run_lat, 95):.1f} ms, p99 {percentile(run_lat, 99):.1f} ms, "
                f"max {run_lat[-1]:.1f} ms"
            )
    return warm + results, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--web", type=int, default=2, help="Web processes (scaled mode).")
    parser.add_argument(
        "--worker-threads",
        type=int,
        default=1,
        help="Job threads of each worker process (ascolto worker --workers); 0: no worker.",
    )
    parser.add_argument("--workers", type=int, default=1, help="Worker processes.")
    parser.add_argument("--connections", type=int, default=16, help="Probe connections.")
    parser.add_argument(
        "--db-connections",
        choices=DB_CONNECTIONS,
        default="as-configured",
        help="Database connections of the web processes (see _configure_connections).",
    )
    parser.add_argument("--probe", type=float, default=20, help="Probe seconds (0: skip).")
    parser.add_argument("--duration", type=float, default=30, help="Open-loop seconds.")
    parser.add_argument("--rate", type=float, default=0, help="Open-loop msg/s offered.")
    parser.add_argument(
        "--max-open", type=int, default=64, help="Most connections the open loop opens."
    )
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument(
        "--bulk", type=int, default=1, help="Messages per request (>1: the bulk operation)."
    )
    parser.add_argument("--duplicates", type=float, default=0.3)
    parser.add_argument("--no-listen", dest="listen", action="store_false")
    parser.add_argument("--drain-timeout", type=float, default=120)
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    add_database_argument(parser)
    parser.set_defaults(database_url=os.environ.get("DATABASE_URL") or DEFAULT_URL)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    scaled = args.database_url.startswith(("postgres://", "postgresql://"))
    if scaled:
        os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
        os.environ["ASCOLTO_REDIS_PREFIX"] = f"ingest-bench-{uuid.uuid4().hex[:8]}"
    else:
        os.environ.pop("REDIS_URL", None)
        args.web = 1
    os.environ.setdefault("ASCOLTO_LOG_LEVEL", "WARNING")
    os.environ["ASCOLTO_HUEY_IMMEDIATE"] = "0"
    os.environ["INGEST_BENCH_DB_CONNECTIONS"] = args.db_connections
    mode = (
        f"scaled: {args.web} web process(es) + {args.workers} worker process(es) on PostgreSQL "
        "and Redis, "
        f"database connections {args.db_connections}"
        if scaled
        else "embedded: 1 web process + worker on SQLite"
    )
    load_before = os.getloadavg()
    print(f"{machine()} · {time.strftime('%Y-%m-%d %H:%M')} · {mode}")
    print(
        f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} "
        f"(the machine is shared)"
    )
    with bench_database(args.database_url, keep=args.keep):
        setup = prepare(agents=5)
        from django.db import connections

        if scaled:
            print(f"PostgreSQL: {server_settings(connections['default'])}")

        connections.close_all()
        port = _free_port()
        here = str(Path(__file__).resolve())
        processes = [
            subprocess.Popen([sys.executable, here, "--serve", str(port)]) for _ in range(args.web)
        ]
        web_pids = [p.pid for p in processes]
        for _ in range(args.workers if args.worker_threads else 0):
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        "from ascolto.cli import main; main(prog_name='ascolto')",
                        "worker",
                        "--workers",
                        str(args.worker_threads),
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )
        try:
            _wait_for_port(port, processes)
            time.sleep(2 if args.web > 1 else 0)  # every web process listening
            from django.db import connection

            meter = CpuMeter(
                web=web_pids,
                worker=[p.pid for p in processes[args.web :]],
                database=str(connection.settings_dict["NAME"]) if scaled else "",
                admin_url=args.database_url.replace("postgres://", "postgresql://", 1),
            )
            results, offered = asyncio.run(load(args, port, setup, meter))
            if args.worker_threads:
                drain(args.drain_timeout)
            ok = check(results, setup["inbox"])
            run = [r for r in results if r.phase == "run"]
            answered = sorted(r.latency_ms for r in run if r.status in (200, 201))
            met = (
                offered >= 1000
                and len(answered) == len(run) > 0
                and percentile(answered, 99) <= 100
            )
            print(
                "goal (>= 1,000 msg/s sustained with p99 <= 100 ms): "
                + ("met" if met else f"not met at {offered:.0f} msg/s offered")
            )
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
