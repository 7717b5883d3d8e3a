"""Fault test: a flood of signed Twilio webhooks and raw emails (30% sent twice) against real
`ascolto web` and `ascolto worker` processes on a private PostgreSQL and a private Redis,
while the worker is SIGKILLed and restarted and Redis and PostgreSQL are restarted. Clients
retry on errors as providers do. Afterwards every distinct message is stored exactly once.

The machine's shared PostgreSQL and Redis are never touched: both servers are started here on
free ports in temporary directories, and stopped by their own process ids.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from glob import glob
from pathlib import Path

import psycopg
import pytest
from twilio.request_validator import RequestValidator

from tests.conftest import IN_CI
from tests.core.processes import Service, product_env, run

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

TWILIO_MESSAGES = 120
EMAILS = 60
DUPLICATE_SHARE = 0.3
AUTH_TOKEN = "f" * 32
SID = "AC" + "2" * 32


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required when CI=true")
    pytest.skip(f"{what} is not installed")


class PrivatePostgres:
    def __init__(self, root: Path) -> None:
        binaries = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
        if not binaries:
            _missing("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)")
        self.bin = Path(binaries[-1]).parent
        self.root, self.port = root, _port()
        self.data = root / "data"
        root.mkdir(parents=True)
        self.prefix: list[str] = []
        if os.getuid() == 0:  # initdb refuses to run as root
            shutil.chown(root, "postgres", "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._call("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _call(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._call(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._call("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


class PrivateRedis:
    def __init__(self, root: Path) -> None:
        if shutil.which("redis-server") is None:
            _missing("redis-server")
        self.root, self.port = root, _port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def servers() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    root = Path(tempfile.mkdtemp(prefix="ascolto-fault-"))
    root.chmod(0o755)
    postgres = PrivatePostgres(root / "pg")
    redis = PrivateRedis(root)
    postgres.start()
    redis.start()
    try:
        yield postgres, redis
    finally:
        redis.stop()
        with contextlib.suppress(subprocess.CalledProcessError):
            postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


SETUP = """
import django, json, sys
django.setup()
from ascolto.core.models import Workspace
from ascolto.core.actors import Actor
from ascolto.connectors.twilio.services import twilio_account_create
from ascolto.connectors.email.services import mailbox_create
ws = Workspace.objects.create(name="Fault", slug="fault")
a = twilio_account_create(workspace=ws, name="SMS", account_sid=sys.argv[1], auth_token=sys.argv[2],
    from_number="+390212345678", actor=Actor.system("fault"))
m = mailbox_create(workspace=ws, name="Mail", address="support@shop.example",
    actor=Actor.system("fault"))
print(json.dumps({"account": a.pk, "token": m.inbound_token}))
"""


RETRIES: list[str] = []
PACE = 0.3  # seconds between one sender's deliveries, so the flood outlasts the faults


def _post(url: str, body: bytes, headers: dict[str, str], stop: float) -> int:
    """POST until a 2xx answer, retrying errors with backoff as providers do."""
    delay = 0.2
    time.sleep(PACE)
    while True:
        request = urllib.request.Request(  # noqa: S310 - loopback test server
            url, data=body, method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 403, 404, 413):
                raise AssertionError(f"{url}: {exc.code} {exc.read()[:300]!r}") from None
            RETRIES.append(f"HTTP {exc.code}")
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            RETRIES.append(type(exc).__name__)
        if time.monotonic() > stop:
            raise AssertionError(f"{url} never accepted the delivery")
        time.sleep(delay)
        delay = min(delay * 2, 3.0)


def test_flood_with_crashes_and_restarts_stores_every_message_once(
    servers: tuple[PrivatePostgres, PrivateRedis], tmp_path: Path
) -> None:
    postgres, redis = servers
    env = product_env(
        DATABASE_URL=postgres.url,
        REDIS_URL=redis.url,
        SECRET_KEY="fault-" + uuid.uuid4().hex * 2,
        ASCOLTO_DATA_DIR=str(tmp_path / "data"),
    )
    migrated = run(["migrate"], env, timeout=600)
    assert migrated.returncode == 0, migrated.stderr
    setup = subprocess.run(
        [sys.executable, "-c", SETUP, SID, AUTH_TOKEN],
        env={**env, "DJANGO_SETTINGS_MODULE": "ascolto.config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert setup.returncode == 0, setup.stderr
    import json

    ids = json.loads(setup.stdout.strip().splitlines()[-1])
    port = _port()
    base = f"http://127.0.0.1:{port}"
    web = Service(["web", "--port", str(port)], env, tmp_path / "web.log")
    workers = [Service(["worker", "--workers", "2"], env, tmp_path / "worker-0.log")]
    try:
        web.wait_for_http(base + "/healthz")
        validator = RequestValidator(AUTH_TOKEN)
        twilio_url = f"{base}/connectors/twilio/{ids['account']}/inbound"
        email_url = f"{base}/connectors/email/{ids['token']}/inbound"
        deliveries: list[tuple[str, bytes, dict[str, str]]] = []
        for n in range(TWILIO_MESSAGES):
            form = {
                "MessageSid": f"SM{n:032d}",
                "AccountSid": SID,
                "From": f"+3933312{n % 40:05d}",
                "To": "+390212345678",
                "Body": f"Message {n}",
                "NumMedia": "0",
            }
            headers = {
                "X-Twilio-Signature": validator.compute_signature(twilio_url, form),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            deliveries.append((twilio_url, urllib.parse.urlencode(form).encode(), headers))
        for n in range(EMAILS):
            mail = EmailMessage()
            mail["From"] = f"Customer {n} <c{n % 20}@customer.example>"
            mail["To"] = "support@shop.example"
            mail["Subject"] = f"Order {n}"
            mail["Message-ID"] = f"<fault-{n}@customer.example>"
            mail.set_content(f"Where is order {n}?")
            deliveries.append((email_url, mail.as_bytes(), {"Content-Type": "message/rfc822"}))
        rng = random.Random(4)
        flood = deliveries + rng.sample(deliveries, int(len(deliveries) * DUPLICATE_SHARE))
        rng.shuffle(flood)

        stop_at = time.monotonic() + 300
        chaos_done: list[float] = []

        def chaos() -> None:
            steps = [
                lambda: workers[-1].process.send_signal(signal.SIGKILL),
                lambda: workers.append(
                    Service(
                        ["worker", "--workers", "2"], env, tmp_path / f"worker-{len(workers)}.log"
                    )
                ),
                lambda: (redis.stop(), time.sleep(1), redis.start()),
                lambda: (postgres.stop(), time.sleep(1), postgres.start()),
                lambda: workers[-1].process.send_signal(signal.SIGKILL),
                lambda: workers.append(
                    Service(
                        ["worker", "--workers", "2"], env, tmp_path / f"worker-{len(workers)}.log"
                    )
                ),
            ]
            for step in steps:
                time.sleep(1.5)
                step()
            chaos_done.append(time.monotonic())

        chaos_thread = threading.Thread(target=chaos)
        chaos_thread.start()
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda d: _post(d[0], d[1], d[2], stop_at), flood))
        flood_done = time.monotonic()
        chaos_thread.join()
        assert all(200 <= s < 300 for s in statuses)
        # Every fault happened while deliveries were still arriving.
        assert chaos_done
        assert chaos_done[0] < flood_done

        with psycopg.connect(postgres.url.replace("/postgres", "/postgres")) as db:
            sms = db.execute(
                "SELECT provider_id, count(*) FROM inbox_message WHERE kind = 'inbound' "
                "AND provider_id LIKE 'SM%%' GROUP BY provider_id"
            ).fetchall()
            mails = db.execute(
                "SELECT message_id, count(*) FROM email_connector_emailmessagerecord "
                "WHERE direction = 'in' GROUP BY message_id"
            ).fetchall()
            mail_messages = db.execute(
                "SELECT count(*) FROM inbox_message m JOIN inbox_inbox i ON i.id = m.inbox_id "
                "WHERE i.channel = 'email' AND m.kind = 'inbound'"
            ).fetchone()
        assert len(sms) == TWILIO_MESSAGES
        assert {count for _sid, count in sms} == {1}
        assert len(mails) == EMAILS
        assert {count for _mid, count in mails} == {1}
        assert mail_messages == (EMAILS,)
        print(
            f"{len(flood)} deliveries ({len(flood) - len(deliveries)} duplicates), "
            f"{len(RETRIES)} retried attempts ({', '.join(sorted(set(RETRIES)))}), "
            f"{TWILIO_MESSAGES} SMS and {EMAILS} emails stored once each"
        )
    finally:
        web.kill()
        for worker in workers:
            worker.kill()
