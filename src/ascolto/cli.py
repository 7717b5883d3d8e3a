"""The `ascolto` command line.

`serve` is the embedded default: one process runs the web server, the background workers and
the periodic scheduler. At scale the same code runs as separate `web` and `worker` processes
that share PostgreSQL (DATABASE_URL) and Redis (REDIS_URL).

Django is set up inside each command, not at import, so `--help` works even when the
configuration is broken, and a configuration error is one clear line instead of a traceback.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

import click
from huey.consumer import Consumer

if TYPE_CHECKING:
    from ascolto.accounts.models import User
    from ascolto.core.models import Workspace

logger = logging.getLogger(__name__)

ASGI_APP = "ascolto.config.asgi:application"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEMO_CUSTOMERS = 300

# Commands that live in domain apps: (module, attribute, one-line help shown by `--help`).
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("ascolto.customers.cli", "demo", "Load demo data (--customers N for large volumes)."),
    "import": ("ascolto.customers.cli", "import_", "Import customers or orders from CSV/JSONL."),
    "nlp": ("ascolto.assistant.nlp.cli", "nlp", "Language, intent and sentiment models."),
    "helpcenter": ("ascolto.helpcenter.cli", "helpcenter", "Help center: search evaluation."),
    "surveys": ("ascolto.surveys.cli", "surveys", "Surveys: metric rollups."),
    "analytics": ("ascolto.analytics.cli", "analytics", "Analytics: conversation rollups."),
    "recommendations": ("ascolto.recommendations.cli", "recommendations", "Recompute, evaluate."),
}


class AscoltoGroup(click.Group):
    """A group whose domain commands are imported only when they are run (after Django setup)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        module_name, attribute, short_help = LAZY_COMMANDS[cmd_name]
        if ctx.resilient_parsing:
            return click.Command(cmd_name, short_help=short_help, help=short_help)
        setup_django()
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return _unavailable(cmd_name, short_help)
        loaded = getattr(module, attribute, None)
        return loaded if isinstance(loaded, click.Command) else _unavailable(cmd_name, short_help)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # `ascolto --help` lists the domain commands from LAZY_COMMANDS without importing them.
        rows = []
        for name in self.list_commands(ctx):
            command = super().get_command(ctx, name)
            if command is None:
                rows.append((name, LAZY_COMMANDS[name][2]))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str, short_help: str) -> click.Command:
    def run() -> None:
        raise click.ClickException(f"`ascolto {name}` is not available in this installation.")

    return click.Command(name, callback=run, short_help=short_help, help=short_help)


@click.group(cls=AscoltoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ascolto")
def main() -> None:
    """Ascolto: an open-source customer experience platform.

    Start with `ascolto serve` (everything in one process, data in ASCOLTO_DATA_DIR).
    Configuration comes from environment variables; `ascolto check` tells you what is missing.
    """


def setup_django() -> None:
    """Load the settings and apps, turning a configuration error into one clear message."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ascolto.config.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise click.ClickException(f"Configuration error: {exc}") from None


# --- migrate, createadmin, check ----------------------------------------------------------


@main.command()
def migrate() -> None:
    """Create or update the database tables."""
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)


def pending_migrations() -> int:
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


@main.command()
@click.option("--username", prompt=True, help="Login name of the new administrator.")
@click.option("--email", default="", help="Email address (optional).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="ASCOLTO_ADMIN_PASSWORD",
    help="Password (prompted when omitted; or set ASCOLTO_ADMIN_PASSWORD).",
)
@click.option(
    "--workspace",
    "workspace_slug",
    default="",
    help="Slug of the workspace to own; created if it does not exist. "
    "Default: the first workspace, or a new one.",
)
def createadmin(username: str, email: str, password: str, workspace_slug: str) -> None:
    """Create a superuser who owns a workspace."""
    setup_django()
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from ascolto.accounts.models import User

    username = username.strip()
    if not username:
        raise click.BadParameter("The username cannot be empty.", param_hint="--username")
    if User.objects.filter(username=username).exists():
        raise click.ClickException(f"A user named {username!r} already exists.")
    try:
        validate_password(password, User(username=username, email=email))
    except ValidationError as exc:
        raise click.BadParameter(" ".join(exc.messages), param_hint="--password") from None
    user, workspace = create_admin(
        username=username, email=email, password=password, workspace_slug=workspace_slug
    )
    click.echo(f"Created administrator {user.username!r}, owner of workspace {workspace.slug!r}.")


def create_admin(
    *, username: str, email: str, password: str, workspace_slug: str = ""
) -> tuple[User, Workspace]:
    """A superuser with owner membership of the workspace (found by slug or created)."""
    from django.db import transaction
    from django.utils.text import slugify

    from ascolto.accounts.models import Role, User
    from ascolto.accounts.services import membership_set, workspace_create
    from ascolto.core.actors import Actor
    from ascolto.core.models import Workspace

    with transaction.atomic():
        user = User.objects.create_superuser(username=username, email=email, password=password)
        workspace: Workspace | None
        if workspace_slug:
            candidates = {workspace_slug, slugify(workspace_slug)}
            workspace = Workspace.objects.filter(slug__in=candidates).order_by("pk").first()
            if workspace is None:
                workspace = workspace_create(name=workspace_slug, slug=slugify(workspace_slug))
        else:
            workspace = Workspace.objects.order_by("pk").first() or workspace_create(
                name="My workspace"
            )
        membership_set(
            workspace=workspace, user=user, role=Role.OWNER, actor=Actor.system("ascolto cli")
        )
    return user, workspace


@main.command()
def check() -> None:
    """Check the configuration and that the database, Redis and mail server are reachable."""
    setup_django()
    from ascolto.core.checks import run_all

    findings = run_all()
    marks = {"ok": click.style(" ok ", fg="green"), "warning": click.style("warn", fg="yellow")}
    for finding in findings:
        mark = marks.get(finding.level, click.style("FAIL", fg="red", bold=True))
        click.echo(f"[{mark}] {finding.topic}: {finding.message}")
    errors = sum(1 for f in findings if f.level == "error")
    if errors:
        click.echo(f"{errors} problem(s) found.", err=True)
        sys.exit(1)
    click.echo("Everything needed is in place.")


# --- running: serve, web, worker ----------------------------------------------------------


class InProcessConsumer(Consumer):  # type: ignore[misc]
    """A Huey consumer that runs as threads inside another program (the web server or a test).

    It leaves signal handling to its host: uvicorn owns Ctrl-C in `ascolto serve`.
    """

    def _set_signal_handlers(self) -> None:
        pass


class WorkerConsumer(Consumer):  # type: ignore[misc]
    """The consumer of `ascolto worker`: SIGTERM (docker, systemd) finishes running jobs too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signal_actions[signal.SIGTERM] = (False, True)


def _consumer_options(workers: int, periodic: bool) -> dict[str, Any]:
    return {
        "workers": workers,
        "periodic": periodic,
        "worker_type": "thread",
        "initial_delay": 0.1,
        "max_delay": 2.0,
        "shutdown_timeout": 30,
        "check_worker_health": True,
    }


def _require_queue() -> Any:
    from django.conf import settings

    huey = settings.HUEY
    if huey.immediate:
        raise click.ClickException(
            "ASCOLTO_HUEY_IMMEDIATE is on, so jobs run inside the web process and there is "
            "no queue to consume; unset ASCOLTO_HUEY_IMMEDIATE."
        )
    return huey


@main.command()
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on. To be reached by another name, list it in ALLOWED_HOSTS.",
)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 32),
    help="Background worker threads.",
)
@click.option(
    "--demo/--no-demo", default=True, show_default=True, help="Load demo data on the first run."
)
def serve(host: str, port: int, workers: int, demo: bool) -> None:
    """Run Ascolto in one process: web server, background workers and scheduler.

    On the first run it creates the database, loads demo data and an administrator, and
    prints the login. Ctrl-C stops everything. Data lives in ASCOLTO_DATA_DIR (~/.ascolto).
    """
    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    from ascolto.accounts.models import User
    from ascolto.core.tasks import flush_stale_locks

    if pending_migrations():
        click.echo("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
    credentials = None
    if not User.objects.exists():
        credentials = first_run(demo=demo)

    base_url = f"http://{_url_host(host)}:{port}"
    _print_welcome(base_url, credentials)

    huey = settings.HUEY
    consumer: InProcessConsumer | None = None
    if not huey.immediate:
        flush_stale_locks()
        consumer = InProcessConsumer(huey, **_consumer_options(workers, periodic=True))
        consumer.start()
    stop_health = threading.Event()
    if consumer is not None:
        threading.Thread(
            target=_watch_workers, args=(consumer, stop_health), name="huey-health", daemon=True
        ).start()

    try:
        _run_uvicorn(host=host, port=port, workers=1)
    finally:
        stop_health.set()
        if consumer is not None:
            click.echo("Stopping background workers…")
            consumer.stop(graceful=True)
            huey.notify_interrupted_tasks()
    click.echo("Ascolto stopped.")


def _ignore_signal(signum: int, frame: Any) -> None:
    pass


def _watch_workers(consumer: InProcessConsumer, stop: threading.Event) -> None:
    while not stop.wait(10):
        consumer.check_worker_health()


def first_run(*, demo: bool) -> tuple[str, str]:
    """Load demo data (when asked and available) and create an administrator.

    Returns the administrator's username and generated password. A failure to load the demo
    is reported and the first run goes on: an empty Ascolto is better than none.
    """
    from ascolto.accounts.models import User
    from ascolto.core.models import Workspace

    workspace_slug = ""
    if demo:
        try:
            demo_module = importlib.import_module("ascolto.customers.demo")
        except ModuleNotFoundError as exc:
            if exc.name != "ascolto.customers.demo":
                raise
            click.echo("Demo data is not available in this version; starting empty.")
        else:
            click.echo(f"Loading demo data ({DEMO_CUSTOMERS} customers)…")
            try:
                loaded = demo_module.load_demo(customers=DEMO_CUSTOMERS)
            except Exception as exc:
                logger.exception("Loading the demo data failed")
                click.echo(f"Demo data could not be loaded ({exc}); starting without it.", err=True)
            else:
                if isinstance(loaded, Workspace):
                    workspace_slug = loaded.slug
    username, n = "admin", 1
    while User.objects.filter(username=username).exists():
        n += 1
        username = f"admin{n}"
    password = secrets.token_urlsafe(12)
    create_admin(
        username=username,
        email="admin@localhost",
        password=password,
        workspace_slug=workspace_slug,
    )
    return username, password


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - only used to print a URL
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _print_welcome(base_url: str, credentials: tuple[str, str] | None) -> None:
    click.echo("")
    click.secho(f"Ascolto is starting at {base_url}/", bold=True)
    click.echo(f"  Log in at  {base_url}/accounts/login/")
    if credentials is not None:
        username, password = credentials
        click.echo(f"  Username:  {username}")
        click.echo(f"  Password:  {password}")
        click.echo("  (The password is shown only this once. `ascolto createadmin` adds admins.)")
    click.echo(f"  Admin:     {base_url}/admin/")
    click.echo(f"  API docs:  {base_url}/api/v1/docs")
    click.echo("Press Ctrl-C to stop.")
    click.echo("")


# Connections per web process on PostgreSQL. Under ASGI each request's synchronous code runs in
# a thread of its own, and Django's persistent connections are per thread: without a pool they
# pile up, one per request, until PostgreSQL refuses clients. ASCOLTO_DB_POOL_SIZE overrides it.
WEB_POOL_SIZE = "10"


def _pool_database_connections() -> None:
    os.environ.setdefault("ASCOLTO_DB_POOL_SIZE", WEB_POOL_SIZE)


def _run_uvicorn(*, host: str, port: int, workers: int) -> None:
    import uvicorn
    from django.conf import settings

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "lifespan": "on",
        "log_level": settings.LOG_LEVEL.lower(),
        "proxy_headers": True,
        # uvicorn formats each access line before the logger drops it: skip it when unlogged.
        "access_log": settings.LOG_LEVEL.upper() in {"DEBUG", "INFO"},
        "ws": "websockets-sansio",
    }
    # uvicorn re-raises the signal that stopped it once it has shut down; while it runs, these
    # handlers make that re-raise a no-op, so Ctrl-C and SIGTERM end in a clean exit (and, in
    # `serve`, in the workers' graceful stop) instead of a KeyboardInterrupt or a kill.
    stopping = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, _ignore_signal) for sig in stopping}
    try:
        if workers > 1:
            uvicorn.run(ASGI_APP, workers=workers, **options)
        else:
            uvicorn.Server(uvicorn.Config(ASGI_APP, **options)).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@main.command()
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on. To be reached by another name, list it in ALLOWED_HOSTS.",
)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web server processes.",
)
def web(host: str, port: int, workers: int) -> None:
    """Run only the web server (scaled setup: run `ascolto worker` beside it).

    Run `ascolto migrate` once before starting web processes.
    """
    _pool_database_connections()
    setup_django()
    from django.conf import settings

    if workers > 1 and not settings.REDIS_URL:
        raise click.UsageError(
            "--workers above 1 needs REDIS_URL: browsers connected to different processes "
            "share realtime events through Redis. Without Redis, run `ascolto serve`."
        )
    if not settings.REDIS_URL:
        click.echo(
            "Note: REDIS_URL is not set, so events published by `ascolto worker` reach no "
            "browser; `ascolto serve` runs both in one process.",
            err=True,
        )
    missing = pending_migrations()
    if missing:
        click.echo(f"Warning: {missing} migration(s) not applied; run `ascolto migrate`.", err=True)
    _run_uvicorn(host=host, port=port, workers=workers)


@main.command()
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Threads executing jobs in this process. Scale with processes, one per core; add "
    "threads only where jobs mostly wait on outside services.",
)
@click.option(
    "--periodic/--no-periodic",
    default=True,
    show_default=True,
    help="Also run the scheduler of periodic jobs (safe on every worker: they hold locks).",
)
def worker(workers: int, periodic: bool) -> None:
    """Run only the background workers and scheduler (scaled setup).

    Ctrl-C or SIGTERM lets running jobs finish; a second Ctrl-C stops at once.
    """
    setup_django()
    from django.conf import settings

    from ascolto.core.tasks import flush_stale_locks

    huey = _require_queue()
    if not settings.REDIS_URL:
        click.echo(
            "Note: REDIS_URL is not set; this worker consumes the SQLite queue in "
            f"{settings.DATA_DIR} and must run on the same machine as the web server.",
            err=True,
        )
        flush_stale_locks()
    else:
        from ascolto.core import realtime

        realtime.start_background_sender()  # pushes leave through Redis from a loop thread
    click.echo(f"Ascolto worker: {workers} thread(s), periodic jobs {'on' if periodic else 'off'}.")
    WorkerConsumer(huey, **_consumer_options(workers, periodic)).run()
