"""Benchmark: 2,000 concurrent web chat widget sockets on one node, customer -> agent delivery.

    python bench/widget_bench.py [--sockets 2000] [--active 300] [--messages 3000] [--rate 50]
                                 [--processes 1] [--database-url URL] [--keep] [--reuse]

Creates its own database (bench/_setup.py), a workspace with a webchat inbox and an agent, then
starts the product's ASGI app under uvicorn in --processes separate web processes (as
`ascolto web` runs them: the outbox is enqueued to the job queue, no worker consumes it; with
more than one, the Redis channel layer carries pushes between them, the README's scaled setup,
so REDIS_URL must be set). This process opens --sockets widget websockets spread evenly over
the web processes (each says hello and waits for its welcome) and one agent console socket on
/ws/events/ of the first one (with N processes, N-1 of N pushes cross from one process to
another). Then --active of the visitors each write a first message (the heaviest path: a new
customer, identity and conversation), and --messages follow-ups come from them at random, all
at --rate per second (open loop: a slow server does not slow the senders down) while every
socket stays open.

Measured, with one clock (this process): customer -> agent delivery, from the visitor's send to
the agent console receiving `inbox.message.created`; the visitor's ack; widget connect + hello;
the web processes' resident memory, and the CPU time they spend a message (a figure that other
work on the machine changes much less than it changes latencies). Goal: p99 customer -> agent
<= 50 ms with 2,000 sockets open (judged on follow-ups; first messages are reported beside them).
Rate limits are raised in the server for the run (every socket comes from 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, percentile, process_cpu

ORIGIN = "https://shop.example.com"


def prepare() -> dict[str, Any]:
    """The workspace, an online agent with a signed-in session, and the widget's key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from ascolto.accounts.models import Membership, User
    from ascolto.connectors.webchat import services
    from ascolto.connectors.webchat.config import widget_settings
    from ascolto.core.actors import Actor
    from ascolto.core.models import Workspace
    from ascolto.inbox.models import AgentProfile

    workspace = Workspace.objects.create(name="Bench shop", slug=f"bench-{uuid.uuid4().hex[:8]}")
    agent = User.objects.create_user(username=f"agent-{workspace.slug}", first_name="Sara")
    Membership.objects.create(workspace=workspace, user=agent, role="agent")
    AgentProfile.objects.create(workspace=workspace, user=agent, availability="online")
    inbox = services.webchat_inbox_create(
        workspace=workspace,
        name="Shop chat",
        actor=Actor.system("bench"),
        allowed_origins=[ORIGIN],
    )
    session = SessionStore()
    session[SESSION_KEY] = str(agent.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = agent.get_session_auth_hash()
    session.create()
    return {"key": widget_settings(inbox.config).key, "session": session.session_key}


def serve(port: int) -> None:
    """The server process: the product's ASGI app with the widget socket mounted."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ascolto.config.settings")
    django.setup()
    import uvicorn
    from channels.auth import AuthMiddlewareStack
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.conf import settings

    from ascolto.config.asgi import django_asgi_app, lifespan
    from ascolto.config.routing import websocket_urlpatterns
    from ascolto.connectors.webchat.routing import with_widget_socket

    for name in ("CONNECTS_PER_MINUTE", "MESSAGES_PER_MINUTE", "CONFIG_PER_MINUTE"):
        setattr(settings, f"ASCOLTO_WEBCHAT_{name}", 10**9)
    app = ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": with_widget_socket(
                AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
            ),
            "lifespan": lifespan,
        }
    )
    _raise_file_limit()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="warning",
        ws="websockets-sansio",
        backlog=4096,
        timeout_graceful_shutdown=5,
    )


def _raise_file_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the web processes have used so far, all threads."""
    return sum(process_cpu(pid) for pid in pids)


def _memory(pids: list[int], peak: bool) -> str:
    """The web processes' resident memory in MB (current or peak): the total, and each one's."""
    each = [_rss_mb(pid)[1 if peak else 0] for pid in pids]
    if len(each) == 1:
        return f"{each[0]:.0f} MB"
    return f"{sum(each):.0f} MB ({' + '.join(f'{mb:.0f}' for mb in each)})"


class Visitor:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.acks: dict[str, asyncio.Future[float]] = {}
        self.closed = False

    async def listen(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame["type"] == "ack":
                    future = self.acks.pop(frame["client_id"], None)
                    if future is not None and not future.done():
                        future.set_result(time.perf_counter())
        except ConnectionClosed:
            self.closed = True


async def open_visitor(url: str, opened: list[Visitor], connect_ms: list[float]) -> None:
    from websockets.asyncio.client import connect

    started = time.perf_counter()
    ws = await connect(
        url,
        origin=ORIGIN,
        open_timeout=120,
        max_queue=64,
        ping_interval=None,  # type: ignore[arg-type]
    )
    await ws.send(json.dumps({"type": "hello", "token": None, "locale": "en"}))
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    connect_ms.append((time.perf_counter() - started) * 1000)
    visitor = Visitor(ws)
    opened.append(visitor)
    asyncio.get_running_loop().create_task(visitor.listen())


async def load(
    args: argparse.Namespace, ports: list[int], setup: dict[str, Any], pids: list[int]
) -> None:
    from websockets.asyncio.client import connect

    base = f"ws://127.0.0.1:{ports[0]}"
    sent_at: dict[str, float] = {}
    delivery_ms: dict[str, list[float]] = {"first": [], "follow-up": []}

    agent = await connect(
        f"{base}/ws/events/",
        origin=f"http://127.0.0.1:{ports[0]}",  # type: ignore[arg-type]
        additional_headers={"Cookie": f"sessionid={setup['session']}"},
        ping_interval=None,
    )

    async def agent_listen() -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await agent_frames()
        except ConnectionClosed as exc:
            print(f"the agent's socket closed: {exc}")

    async def agent_frames() -> None:
        async for raw in agent:
            now = time.perf_counter()
            event = json.loads(raw)
            if event.get("event") != "inbox.message.created":
                continue
            text = event["payload"]["message"]["text"]
            started = sent_at.get(text)
            if started is not None:
                delivery_ms[text.split(":")[0]].append((now - started) * 1000)

    listener = asyncio.get_running_loop().create_task(agent_listen())

    visitors: list[Visitor] = []
    connect_ms: list[float] = []
    gate = asyncio.Semaphore(100)
    urls = [f"ws://127.0.0.1:{port}/ws/widget/?key={setup['key']}" for port in ports]

    async def one(n: int) -> None:
        async with gate:
            await open_visitor(urls[n % len(urls)], visitors, connect_ms)

    ramp = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(args.sockets)))
    ramp_s = time.perf_counter() - ramp
    print(
        f"{len(visitors)} widget sockets open in {ramp_s:.1f} s "
        f"(connect + hello p50 {percentile(sorted(connect_ms), 50):.0f} ms, "
        f"p99 {percentile(sorted(connect_ms), 99):.0f} ms)"
    )
    await asyncio.sleep(2)
    print(f"server RSS with {len(visitors)} sockets open: {_memory(pids, peak=False)}")

    from websockets.exceptions import ConnectionClosed

    rng = random.Random(7)
    lost: list[str] = []

    async def say(visitor: Visitor, text: str, acks: list[float]) -> None:
        client_id = str(uuid.uuid4())
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        visitor.acks[client_id] = future
        started = time.perf_counter()
        sent_at[text] = started
        try:
            await visitor.ws.send(
                json.dumps({"type": "message", "client_id": client_id, "text": text})
            )
            acks.append((await asyncio.wait_for(future, 60) - started) * 1000)
        except (TimeoutError, ConnectionClosed):
            # An overloaded server misses its keep-alive pings and closes sockets: the run goes
            # on and counts what was lost.
            lost.append(text)

    cpu_ms: dict[str, float] = {}

    async def phase(name: str, senders: list[Visitor], count: int) -> tuple[list[float], float]:
        """`count` messages at --rate from `senders` (in turn for first messages, at random for
        follow-ups); waits until the agent has them all. Returns (acks, seconds)."""
        acks: list[float] = []
        pending = []
        cpu_before = _cpu_seconds(pids)
        start = time.perf_counter()
        for n in range(count):
            delay = start + n / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            visitor = senders[n] if name == "first" else rng.choice(senders)
            pending.append(asyncio.create_task(say(visitor, f"{name}: message {n}", acks)))
        await asyncio.gather(*pending)
        deadline = time.perf_counter() + 60
        while len(delivery_ms[name]) < count - len(lost) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        if len(delivery_ms[name]) < count:
            print(f"only {len(delivery_ms[name])} of {count} {name} messages reached the agent")
        cpu_ms[name] = (_cpu_seconds(pids) - cpu_before) * 1000 / count
        return acks, time.perf_counter() - start

    # Active visitors write a first message (a new customer, identity and conversation: the
    # heaviest path), then follow-ups in their conversations while every socket stays open.
    active = visitors[: min(args.active, len(visitors))]
    results = {
        "first": await phase("first", active, len(active)),
        "follow-up": await phase("follow-up", active, args.messages),
    }
    peak = _memory(pids, peak=True)
    listener.cancel()
    await agent.close()
    for visitor in visitors:
        await visitor.ws.close()

    dropped = sum(1 for v in visitors if v.closed)
    if lost or dropped:
        print(f"{len(lost)} messages got no ack within 60 s; {dropped} sockets were dropped")
    print(
        f"{args.rate:g} messages/s offered with {len(visitors)} sockets open; "
        f"server peak RSS {peak}"
    )
    for name, (acks, seconds) in results.items():
        delivery = sorted(delivery_ms[name])
        print(
            f"{name} messages: {len(delivery)} in {seconds:.1f} s; web processes' CPU "
            f"{cpu_ms[name]:.1f} ms a message (all threads, idle sockets included)"
        )
        for label, values in (("customer -> agent", delivery), ("visitor ack", sorted(acks))):
            print(
                f"  {label:18} p50 {percentile(values, 50):6.1f} ms   p95 "
                f"{percentile(values, 95):6.1f} ms   p99 {percentile(values, 99):6.1f} ms   "
                f"max {values[-1] if values else float('nan'):6.1f} ms"
            )
    p99 = percentile(sorted(delivery_ms["follow-up"]), 99)
    verdict = "met" if p99 <= 50 else "NOT met"
    print(
        f"goal (p99 customer -> agent <= 50 ms with {args.sockets} sockets open): {verdict} "
        f"(follow-up messages: {p99:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument(
        "--active", type=int, default=300, help="Visitors who write (the others stay idle)."
    )
    parser.add_argument("--messages", type=int, default=3000, help="Follow-up messages.")
    parser.add_argument("--rate", type=float, default=50.0, help="Messages per second.")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="Web processes; more than one needs REDIS_URL (the channel layer between them).",
    )
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Use the database an earlier run left with --keep as it is (each run makes its own "
        "workspace), so that a timed run does not include creating and migrating one.",
    )
    add_database_argument(parser)
    parser.set_defaults(
        database_url=os.environ.get("DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/ascolto_bench_widget"
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.processes < 1:
        parser.error("--processes must be at least 1.")
    if args.processes > 1 and not os.environ.get("REDIS_URL"):
        parser.error("--processes above 1 needs REDIS_URL: the processes share its channel layer.")
    _raise_file_limit()
    print(
        f"{machine()} · {args.database_url.split('@')[-1]} · {args.processes} web process(es) · "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC"
    )
    with bench_database(args.database_url, keep=args.keep or args.reuse, reuse=args.reuse):
        setup = prepare()
        from django.db import connections

        connections.close_all()
        ports = [_free_port() for _ in range(args.processes)]
        servers = [
            subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(port)])
            for port in ports
        ]
        try:
            for port, server in zip(ports, servers, strict=True):
                _wait_for(port, server)
            asyncio.run(load(args, ports, setup, [server.pid for server in servers]))
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(30)


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("A web process did not start.") from None
            time.sleep(0.2)


if __name__ == "__main__":
    main()
