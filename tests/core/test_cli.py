"""The `ascolto` command line: help everywhere, createadmin, check."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from django.db import connections
from django.db.utils import load_backend

from ascolto.accounts.models import Membership, Role, User
from ascolto.cli import first_run, main
from ascolto.core import checks
from ascolto.core.models import AuditLogEntry, Workspace

PASSWORD = "a long enough passphrase"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_every_command_has_help(runner):
    listing = runner.invoke(main, ["--help"])
    assert listing.exit_code == 0
    names = main.list_commands(click_context())
    expected = {"serve", "web", "worker", "migrate", "createadmin", "check", "demo", "import"}
    assert expected <= set(names)

    for name in names:
        assert f"  {name} " in listing.output
        result = runner.invoke(main, [name, "--help"], prog_name="ascolto")
        assert result.exit_code == 0, (name, result.output)
        assert f"Usage: ascolto {name}" in result.output


def click_context():  # type: ignore[no-untyped-def]
    import click

    return click.Context(main)


@pytest.mark.django_db
def test_createadmin_creates_a_superuser_owning_a_new_workspace(runner):
    result = runner.invoke(
        main,
        [
            *("createadmin", "--username", "boss", "--email", "boss@example.com"),
            *("--password", PASSWORD, "--workspace", "acme"),
        ],
    )

    assert result.exit_code == 0, result.output
    user = User.objects.get(username="boss")
    assert user.is_superuser
    assert user.is_staff
    assert user.check_password(PASSWORD)
    membership = Membership.objects.get(user=user)
    assert membership.workspace.slug == "acme"
    assert membership.role == Role.OWNER
    assert AuditLogEntry.objects.filter(action="membership.set", object_id=str(user.pk)).exists()


@pytest.mark.django_db
def test_createadmin_joins_an_existing_workspace(runner, workspace):
    result = runner.invoke(main, ["createadmin", "--username", "boss", "--password", PASSWORD])

    assert result.exit_code == 0, result.output
    assert Membership.objects.get(user__username="boss").workspace == workspace
    assert Workspace.objects.count() == 1


@pytest.mark.django_db
def test_createadmin_prompts_for_what_is_missing(runner):
    result = runner.invoke(main, ["createadmin"], input=f"boss\n{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert User.objects.get(username="boss").check_password(PASSWORD)
    assert Workspace.objects.get().name == "My workspace"


@pytest.mark.django_db
def test_createadmin_refuses_a_weak_password_and_writes_nothing(runner):
    result = runner.invoke(main, ["createadmin", "--username", "boss", "--password", "password"])

    assert result.exit_code == 2
    assert "too common" in result.output
    assert not User.objects.exists()
    assert not Workspace.objects.exists()


@pytest.mark.django_db
def test_createadmin_refuses_a_taken_username(runner, agent):
    result = runner.invoke(
        main, ["createadmin", "--username", agent.username, "--password", PASSWORD]
    )

    assert result.exit_code == 1
    assert "already exists" in result.output
    assert not User.objects.get(pk=agent.pk).is_superuser


@pytest.mark.django_db
def test_check_passes_on_a_migrated_database(runner):
    result = runner.invoke(main, ["check"])

    assert result.exit_code == 0, result.output
    assert "Migrations: all applied" in result.output
    assert "Data directory" in result.output


@pytest.mark.django_db
def test_check_fails_naming_redis_url_when_redis_is_unreachable(runner, settings, free_port):
    settings.REDIS_URL = f"redis://:hunter2@127.0.0.1:{free_port}/0"

    result = runner.invoke(main, ["check"])

    assert result.exit_code == 1
    assert "[FAIL] Redis: cannot reach" in result.output
    assert "check REDIS_URL" in result.output
    assert "hunter2" not in result.output


@pytest.mark.redis
@pytest.mark.django_db
def test_check_reaches_a_running_redis(settings, redis_url):
    settings.REDIS_URL = redis_url

    assert [f.level for f in checks.check_redis()] == ["ok"]


def test_check_fails_naming_the_email_settings_when_smtp_is_unreachable(settings, free_port):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port

    [finding] = checks.check_email()

    assert finding.level == "error"
    assert "EMAIL_HOST, EMAIL_PORT" in finding.message


def test_check_greets_a_reachable_smtp_server(settings, fake_smtp):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake_smtp

    assert [f.level for f in checks.check_email()] == ["ok"]


def test_check_warns_that_production_without_email_prints_mail(settings):
    settings.PRODUCTION, settings.EMAIL_HOST = True, ""

    [finding] = checks.check_email()

    assert finding.level == "warning"
    assert "set EMAIL_HOST" in finding.message


def test_check_warns_that_production_without_a_public_url_sends_local_links(settings):
    settings.PRODUCTION, settings.ASCOLTO_PUBLIC_URL_FROM_ENV = True, False
    settings.ASCOLTO_PUBLIC_URL = "http://127.0.0.1:8000"

    [finding] = checks.check_public_url()

    assert finding.level == "warning"
    assert "ASCOLTO_PUBLIC_URL=https://cx.example.com" in finding.message
    assert "http://127.0.0.1:8000" in finding.message


def test_check_accepts_a_configured_public_url(settings):
    settings.PRODUCTION, settings.ASCOLTO_PUBLIC_URL_FROM_ENV = True, True
    settings.ASCOLTO_PUBLIC_URL = "https://cx.example.com"

    [finding] = checks.check_public_url()

    assert finding.level == "ok"
    assert "https://cx.example.com" in finding.message


@pytest.mark.django_db
def test_check_reports_a_database_it_cannot_reach(free_port):
    engine = "django.db.backends.postgresql"
    unreachable = load_backend(engine).DatabaseWrapper(
        {
            **connections["default"].settings_dict,
            "ENGINE": engine,
            "NAME": "ascolto",
            "HOST": "127.0.0.1",
            "PORT": str(free_port),
            "USER": "postgres",
            "PASSWORD": "",
            "OPTIONS": {"connect_timeout": 3},
        },
        alias="unreachable",
    )

    [finding] = checks.check_database(unreachable)

    assert finding.level == "error"
    assert f"PostgreSQL 127.0.0.1:{free_port}/ascolto" in finding.message
    assert "check DATABASE_URL" in finding.message


class _Server:
    """A PostgreSQL connection's stand-in that answers the autovacuum settings query."""

    vendor = "postgresql"

    def __init__(self, autovacuum: str, naptime: str) -> None:
        self.row = (autovacuum, naptime)

    def cursor(self) -> _Server:
        return self

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str) -> None:
        assert "autovacuum" in sql

    def fetchone(self) -> tuple[str, str]:
        return self.row


def test_check_warns_when_autovacuum_is_off():
    finding = checks._autovacuum(_Server("off", "1min"))  # type: ignore[arg-type]
    assert finding.level == "warning"
    assert "set autovacuum = on" in finding.message

    finding = checks._autovacuum(_Server("on", "10s"))  # type: ignore[arg-type]
    assert finding.level == "ok"
    assert "10s" in finding.message


@pytest.mark.django_db
def test_check_reads_autovacuum_from_a_real_server():
    """The query runs on PostgreSQL, and the finding says what the server has."""
    if connections["default"].vendor != "postgresql":
        pytest.skip("needs the test database on PostgreSQL (DATABASE_URL=postgres://...)")
    [finding] = [f for f in checks.check_database() if f.topic == "Autovacuum"]
    with connections["default"].cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        enabled = cursor.fetchone()[0]
    assert finding.level == ("ok" if enabled == "on" else "warning")


def test_redact_hides_passwords():
    assert checks.redact("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert checks.redact("postgres://u:pw@db/x") == "postgres://u:***@db/x"
    assert checks.redact("redis://cache:6379/0") == "redis://cache:6379/0"


@pytest.fixture
def fake_smtp() -> Iterator[int]:
    """An SMTP server that greets, says yes to everything and says goodbye."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn, conn.makefile("rwb") as stream:
            stream.write(b"220 fake ESMTP\r\n")
            stream.flush()
            for line in stream:
                stream.write(b"221 bye\r\n" if line.upper().startswith(b"QUIT") else b"250 ok\r\n")
                stream.flush()
                if line.upper().startswith(b"QUIT"):
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(5)


@pytest.mark.django_db
def test_createadmin_finds_a_workspace_by_its_name_as_well_as_its_slug(runner):
    for username in ("boss", "deputy"):
        result = runner.invoke(
            main,
            [
                "createadmin",
                "--username",
                username,
                "--password",
                PASSWORD,
                "--workspace",
                "Acme Inc",
            ],
        )
        assert result.exit_code == 0, result.output

    workspace = Workspace.objects.get()
    assert workspace.slug == "acme-inc"
    assert workspace.memberships.count() == 2


@pytest.mark.django_db
def test_first_run_creates_a_working_admin_beside_an_existing_one(agent):
    agent.username = "admin"
    agent.save()

    username, password = first_run(demo=False)

    assert username == "admin2"
    admin = User.objects.get(username=username)
    assert admin.is_superuser
    assert admin.check_password(password)
    assert Membership.objects.filter(user=admin, role=Role.OWNER).exists()
