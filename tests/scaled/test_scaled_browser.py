"""The web chat across the scaled configuration, in a real browser: two `ascolto web` processes
and a worker on PostgreSQL and Redis. A visitor chats through the widget served by web A; the
agent works in the console served by web B, sees the message arrive live, and replies; the
visitor sees the reply live. Every realtime hop crosses processes through Redis.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.core import chromium
from tests.core.processes import Service, free_ports, product_env, run

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]

PASSWORD = "correct horse battery"
LAUNCHER = "button[aria-controls='ascolto-chat-panel']"

# Runs in a process of its own against the product's database: the agent is online, and the
# shop has a chat widget that web A's pages may embed.
SETUP = """
import json, sys
from ascolto.cli import setup_django
setup_django()
from ascolto.accounts.models import User
from ascolto.connectors.webchat.config import widget_settings
from ascolto.connectors.webchat.services import webchat_inbox_create
from ascolto.core.actors import Actor
from ascolto.core.models import Workspace
from ascolto.inbox.models import AgentProfile

workspace = Workspace.objects.order_by("pk").get()
agent = User.objects.get(username="ada")
agent.first_name = "Ada"
agent.save(update_fields=["first_name"])
AgentProfile.objects.update_or_create(
    workspace=workspace, user=agent, defaults={"availability": "online"}
)
inbox = webchat_inbox_create(
    workspace=workspace, name="Shop chat", actor=Actor.system("setup"),
    allowed_origins=[sys.argv[1]], title="Caffè Aurora",
)
print(json.dumps({"key": widget_settings(inbox.config).key}))
"""


def _messages(database_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as db:
        rows = db.execute("SELECT kind, text FROM inbox_message ORDER BY id").fetchall()
    return [(str(kind), str(text)) for kind, text in rows]


def test_a_visitor_on_web_a_and_an_agent_on_web_b_chat_live(
    fresh_database: str, redis_url: str, tmp_path: Path
) -> None:
    chromium.require()
    from playwright.sync_api import expect

    env = product_env(
        DATABASE_URL=fresh_database,
        REDIS_URL=redis_url,
        ASCOLTO_REDIS_PREFIX=f"ascolto-chat-{uuid.uuid4().hex[:8]}",
        SECRET_KEY="scaled-" + uuid.uuid4().hex * 2,
        ASCOLTO_DATA_DIR=str(tmp_path / "data"),
    )
    assert run(["migrate"], env).returncode == 0
    created = run(["createadmin", "--username", "ada", "--password", PASSWORD], env)
    assert created.returncode == 0, created.stderr

    port_a, port_b = free_ports(2)
    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    setup = subprocess.run(
        [sys.executable, "-c", SETUP, a], env=env, capture_output=True, text=True, timeout=120
    )
    assert setup.returncode == 0, setup.stderr
    key = json.loads(setup.stdout.strip().splitlines()[-1])["key"]

    services = [
        Service(["web", "--port", str(port_a)], env, tmp_path / "web-a.log"),
        Service(["web", "--port", str(port_b)], env, tmp_path / "web-b.log"),
        Service(["worker", "--workers", "2"], env, tmp_path / "worker.log"),
    ]
    try:
        services[0].wait_for_http(a + "/healthz")
        services[1].wait_for_http(b + "/healthz")
        with chromium.launch() as browser:
            agent_context = browser.new_context(viewport={"width": 1440, "height": 900})
            agent_context.set_default_timeout(30_000)
            console = agent_context.new_page()
            console.goto(f"{b}/accounts/login/?next=/inbox/%3Fview%3Dall")
            console.get_by_label("Username").fill("ada")
            console.get_by_label("Password").fill(PASSWORD)
            console.get_by_role("button", name="Sign in").click()
            console.wait_for_url(f"{b}/inbox/?view=all")
            rows = console.locator("#conversation-rows > .conv-row")
            expect(rows).to_have_count(0)

            visitor_context = browser.new_context(viewport={"width": 1280, "height": 800})
            visitor_context.set_default_timeout(30_000)
            visitor = visitor_context.new_page()
            visitor.goto(f"{a}/widget/demo/?key={key}")
            visitor.locator(LAUNCHER).click()
            visitor.get_by_label("Message").fill("Hello from web A: is my parcel on its way?")
            visitor.keyboard.press("Enter")

            # Web A stored it; web B's console shows it without a reload.
            expect(rows.first).to_contain_text("is my parcel on its way?")
            rows.first.locator(".conv-link").click()
            expect(console.locator("#thread-items")).to_contain_text("Hello from web A")
            console.locator("#composer-text").fill("Yes, it left the warehouse this morning.")
            console.keyboard.press("Control+Enter")
            expect(console.locator("#thread-items .msg-outbound")).to_contain_text(
                "left the warehouse"
            )

            # Web B stored the reply; the visitor's widget on web A shows it live.
            log = visitor.get_by_role("log")
            expect(log).to_contain_text("Yes, it left the warehouse this morning.")
            expect(log).to_contain_text("Ada")
            agent_context.close()
            visitor_context.close()

        assert [m for m in _messages(fresh_database) if m[0] in {"inbound", "outbound"}] == [
            ("inbound", "Hello from web A: is my parcel on its way?"),
            ("outbound", "Yes, it left the warehouse this morning."),
        ]
        codes = [service.stop(signal.SIGTERM) for service in services]
        assert codes == [0, 0, 0], [service.output() for service in services]
    finally:
        for service in services:
            service.kill()
    for service in services:
        assert "Traceback" not in service.output(), service.output()
