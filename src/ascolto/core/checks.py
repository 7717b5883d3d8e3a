"""`ascolto check`: is this installation configured and can it reach what it needs?

Each check returns Findings with a level and a message that says what to set or do. The checks
read the loaded settings, so a setting that cannot even be loaded is reported by the CLI before
these run (settings fail fast with their own message).
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core import checks as django_checks
from django.core.mail import get_connection
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor

Level = Literal["ok", "warning", "error"]
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    topic: str
    message: str


def run_all() -> list[Finding]:
    return [
        *check_mode(),
        *check_data_dir(),
        *check_secret_key(),
        *check_database(),
        *check_redis(),
        *check_email(),
        *check_public_url(),
        *check_django(),
    ]


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def check_mode() -> list[Finding]:
    scaled = bool(settings.REDIS_URL) and settings.IS_POSTGRES
    shape = "scaled (PostgreSQL + Redis)" if scaled else "embedded"
    return [Finding("ok", "Mode", f"ASCOLTO_ENV={settings.ASCOLTO_ENV}, {shape}")]


def check_data_dir() -> list[Finding]:
    path = settings.DATA_DIR
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".check-"):
            pass
    except OSError as exc:
        return [
            Finding(
                "error",
                "Data directory",
                f"{path} is not writable ({exc.strerror}); set ASCOLTO_DATA_DIR to a directory "
                "this user can write to.",
            )
        ]
    return [Finding("ok", "Data directory", f"{path} is writable")]


def check_secret_key() -> list[Finding]:
    if settings.SECRET_KEY_FROM_ENV:
        return [Finding("ok", "SECRET_KEY", "set in the environment")]
    # Production refuses to start without SECRET_KEY, so this is an embedded installation.
    return [
        Finding(
            "ok",
            "SECRET_KEY",
            f"generated and kept in {settings.DATA_DIR / 'secret_key'}; set SECRET_KEY (and "
            "ASCOLTO_ENV=production) before serving real users",
        )
    ]


def check_database(connection: BaseDatabaseWrapper | None = None) -> list[Finding]:
    connection = connection or connections[DEFAULT_DB_ALIAS]
    where = _database_label(connection)
    try:
        connection.ensure_connection()
    except Exception as exc:
        hint = (
            "check DATABASE_URL and that PostgreSQL is running and accepts this user"
            if connection.vendor == "postgresql"
            else "check that ASCOLTO_DATA_DIR (or the sqlite:/// path in DATABASE_URL) is writable"
        )
        return [Finding("error", "Database", f"cannot connect to {where} ({exc}); {hint}.")]
    findings = [Finding("ok", "Database", f"connected to {where}")]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        findings.append(
            Finding(
                "error",
                "Migrations",
                f"{len(plan)} migration(s) not applied; run `ascolto migrate`.",
            )
        )
    else:
        findings.append(Finding("ok", "Migrations", "all applied"))
    if connection.vendor == "postgresql":
        findings.append(_autovacuum(connection))
    return findings


def _autovacuum(connection: BaseDatabaseWrapper) -> Finding:
    """Every message rewrites its conversation's row, and without autovacuum the dead versions
    of those rows stay in the table and its indexes for good (41,000 for 2,000 conversations
    after a minute at 700 messages a second: docs/benchmarks.md §5)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('autovacuum'), current_setting('autovacuum_naptime')"
        )
        enabled, naptime = cursor.fetchone()
    if enabled != "on":
        return Finding(
            "warning",
            "Autovacuum",
            "autovacuum is off on this PostgreSQL server: the old row versions every message "
            "leaves (its conversation's) are never cleaned up, and the tables and their "
            "indexes grow for good; set autovacuum = on (PostgreSQL's default).",
        )
    return Finding("ok", "Autovacuum", f"on, a round every {naptime}")


def check_redis() -> list[Finding]:
    url = settings.REDIS_URL
    if not url:
        return [
            Finding(
                "ok",
                "Redis",
                "REDIS_URL is not set: in-memory realtime and the SQLite job queue, for one "
                "process (`ascolto serve`). Set REDIS_URL to run `ascolto web` and "
                "`ascolto worker` separately.",
            )
        ]
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except Exception as exc:
        return [
            Finding(
                "error",
                "Redis",
                f"cannot reach {redact(url)} ({exc}); check REDIS_URL and that Redis is running.",
            )
        ]
    finally:
        client.close()
    return [Finding("ok", "Redis", f"reachable at {redact(url)}")]


def check_email() -> list[Finding]:
    if not settings.EMAIL_HOST:
        level: Level = "warning" if settings.PRODUCTION else "ok"
        return [
            Finding(
                level,
                "Email",
                "EMAIL_HOST is not set, so emails are printed to the console instead of sent; "
                "set EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD and "
                "EMAIL_USE_TLS or EMAIL_USE_SSL to send mail.",
            )
        ]
    where = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    smtp = get_connection(
        SMTP_BACKEND, timeout=min(settings.EMAIL_TIMEOUT, 10), fail_silently=False
    )
    try:
        smtp.open()
    except Exception as exc:
        return [
            Finding(
                "error",
                "Email",
                f"cannot connect or log in to {where} ({exc}); check EMAIL_HOST, EMAIL_PORT, "
                "EMAIL_USE_TLS/EMAIL_USE_SSL and the credentials.",
            )
        ]
    finally:
        # Closing a half-open SMTP session is best effort.
        with contextlib.suppress(Exception):
            smtp.close()
    return [Finding("ok", "Email", f"SMTP server {where} accepted the connection")]


def check_public_url() -> list[Finding]:
    """Links in emails, SMS, WhatsApp and bot answers are built on ASCOLTO_PUBLIC_URL."""
    url = settings.ASCOLTO_PUBLIC_URL
    if not settings.ASCOLTO_PUBLIC_URL_FROM_ENV:
        level: Level = "warning" if settings.PRODUCTION else "ok"
        return [
            Finding(
                level,
                "Public address",
                f"ASCOLTO_PUBLIC_URL is not set, so links sent to customers point at {url}; "
                "set it to the address customers reach Ascolto at, e.g. "
                "ASCOLTO_PUBLIC_URL=https://cx.example.com",
            )
        ]
    if settings.PRODUCTION and not url.startswith("https://"):
        return [
            Finding(
                "warning",
                "Public address",
                f"ASCOLTO_PUBLIC_URL={url} is not https; links in emails would be sent unencrypted",
            )
        ]
    return [Finding("ok", "Public address", f"links sent to customers point at {url}")]


def check_django() -> list[Finding]:
    findings = []
    messages = django_checks.run_checks(include_deployment_checks=settings.PRODUCTION)
    for message in messages:
        if message.is_silenced():
            continue
        level: Level = "error" if message.is_serious() else "warning"
        text = f"{message.msg}" + (f" ({message.hint})" if message.hint else "")
        findings.append(Finding(level, f"Django {message.id}", text))
    if not findings:
        findings.append(Finding("ok", "Django", "system checks passed"))
    return findings


def _database_label(connection: BaseDatabaseWrapper) -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        host = db.get("HOST") or "localhost"
        port = db.get("PORT") or 5432
        return f"PostgreSQL {host}:{port}/{db.get('NAME')}"
    return f"SQLite {db.get('NAME')}"
