"""Shared set-up for the benchmarks: a database of their own, created and dropped around a run.

Each bench takes --database-url (default: DATABASE_URL, else the local PostgreSQL) and creates
the database named in it (by default `ascolto_bench`), so it never touches a real one.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ascolto_bench"
ROOT = Path(__file__).resolve().parent.parent


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_URL,
        help="PostgreSQL URL whose database the bench creates and drops "
        f"(default: $DATABASE_URL or {DEFAULT_URL}); sqlite:///path works too.",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the bench database afterwards (for inspection)."
    )


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit("The database URL must name a database, e.g. .../ascolto_bench")
    return urlunsplit(parts._replace(path="/postgres")), name


def _recreate(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')


def _drop(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_database(url: str, *, keep: bool = False, reuse: bool = False) -> Iterator[str]:
    """Create the database, point Django at it, migrate; drop it on the way out. With `reuse`,
    an existing database (left by an earlier run with `keep`) is used as it is."""
    postgres = url.startswith(("postgres://", "postgresql://"))
    data_dir = tempfile.mkdtemp(prefix="ascolto-bench-")
    if reuse:
        pass
    elif postgres:
        _recreate(url)
    elif url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = url
    os.environ["ASCOLTO_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ascolto.config.settings")
    os.environ.setdefault("ASCOLTO_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    try:
        yield data_dir
    finally:
        from django.db import connections

        connections.close_all()
        if postgres and not keep:
            _drop(url)


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory in MB of this process and of its largest finished child (KB on
    Linux's getrusage)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def process_cpu(pid: int, missing: float = 0.0) -> float:
    """User + system CPU seconds of a live process on this machine, all its threads (from
    /proc); `missing` when it is gone or not visible."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return missing
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(name: str) -> list[int]:
    """The processes whose command is `name` (e.g. redis-server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    low = int(k)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (k - low)


# The server settings the ingest figures depend on most: without autovacuum (or with its round
# far apart) the conversations' rows, rewritten by every message, bloat during a run.
SERVER_SETTINGS = ("autovacuum", "autovacuum_naptime", "shared_buffers", "synchronous_commit")


def server_settings(connection: Any) -> str:
    """PostgreSQL's settings that move the figures, as `name value` pairs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name",
            [list(SERVER_SETTINGS)],
        )
        return ", ".join(f"{name} {value}" for name, value in cursor.fetchall())


def machine() -> str:
    import platform

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"load average {load} (other work on the machine slows every figure)"
    )
