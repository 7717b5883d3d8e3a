"""Shared fixtures and the rules for tests that need a server.

Settings notice pytest themselves (config/settings.py): a temporary data dir, Huey in immediate
mode, a Redis prefix of the run's own. pytest-django loads them before this file is imported.

Tests marked `postgres` or `redis` need that server. Where it is not reachable they are skipped,
except in CI (CI=true), where a missing server is a failure: CI must never go green by
skipping what it was meant to test. The servers are found through the same variables the
product reads (DATABASE_URL when it is PostgreSQL, REDIS_URL), else on the loopback defaults
(ASCOLTO_TEST_POSTGRES_URL, ASCOLTO_TEST_REDIS_URL override them).
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from ascolto.core.actors import Actor
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.core import chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

# Property tests are judged on what they find, not on how fast the machine draws examples: a
# loaded CI machine must not fail them on Hypothesis's timing checks.
hypothesis_settings.register_profile(
    "ascolto", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("ascolto")

# Subprocesses started by tests (browsers' servers, CLI runs) inherit the run's data dir.
os.environ.setdefault("ASCOLTO_DATA_DIR", str(settings.DATA_DIR))
os.environ.setdefault("ASCOLTO_ENV", "test")


def _postgres_url() -> str:
    """The server's maintenance database: the database DATABASE_URL names need not exist (the
    test database is created beside it), and tests that want a database create their own."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql://")):
        return urlunsplit(urlsplit(configured)._replace(path="/postgres"))
    return os.environ.get(
        "ASCOLTO_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
    )


def _redis_url() -> str:
    return os.environ.get("REDIS_URL") or os.environ.get(
        "ASCOLTO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"
    )


@functools.cache
def _postgres_problem() -> str | None:
    url = _postgres_url()
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL at {_safe(url)} is not reachable ({exc})"
    return None


@functools.cache
def _redis_problem() -> str | None:
    url = _redis_url()
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"Redis at {_safe(url)} is not reachable ({exc})"
    return None


def _safe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}{parts.path}"


SERVER_PROBES = {"postgres": _postgres_problem, "redis": _redis_problem}


@pytest.fixture(autouse=True)
def _require_servers(request: pytest.FixtureRequest) -> None:
    for marker, probe in SERVER_PROBES.items():
        if request.node.get_closest_marker(marker) is None:
            continue
        problem = probe()
        if problem is None:
            continue
        if IN_CI:
            pytest.fail(f"{problem}; CI=true requires it (see .ci/run).", pytrace=False)
        pytest.skip(problem)


@pytest.fixture(autouse=True)
def _fresh_channel_layers() -> Iterator[None]:
    """Each test gets channel layers of its own. A layer remembers the event loop it receives
    on (channels_redis refuses a second loop), and each async test, like each server a test
    starts, runs its own loop."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def postgres_url() -> str:
    """A URL of the PostgreSQL server (any database on it; tests create their own)."""
    return _postgres_url()


@pytest.fixture
def redis_url() -> str:
    return _redis_url()


@pytest.fixture
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def workspace(db):  # type: ignore[no-untyped-def]
    return WorkspaceFactory()


@pytest.fixture
def other_workspace(db):  # type: ignore[no-untyped-def]
    return WorkspaceFactory()


@pytest.fixture
def agent(workspace):  # type: ignore[no-untyped-def]
    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user, role="agent")
    return user


@pytest.fixture
def admin_user(workspace):  # type: ignore[no-untyped-def]
    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user, role="admin")
    return user


@pytest.fixture
def actor(agent):  # type: ignore[no-untyped-def]
    return Actor.for_user(agent)


@pytest.fixture(scope="module")
def _sync_orm_beside_playwright() -> Iterator[None]:
    # Playwright's sync API keeps an event loop running in this thread while the browser is
    # open; the tests' own ORM calls (and the database flush between tests) stay synchronous, so
    # Django's async-safety guard, which only sees "a loop is running", is lifted meanwhile.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser(django_db_setup: None, _sync_orm_beside_playwright: None) -> Iterator[Browser]:
    """Headless Chromium for the browser tests of a module (skipped without it, except in CI)."""
    with chromium.launch() as launched:
        yield launched
