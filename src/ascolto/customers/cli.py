"""`ascolto demo` and `ascolto import`: registered by the main CLI, run after Django is set up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

SHOWN_ERRORS = 20


def _workspace(slug: str | None) -> Any:
    from ascolto.core.models import Workspace

    if slug:
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            known = ", ".join(Workspace.objects.values_list("slug", flat=True)[:20]) or "none yet"
            raise click.BadParameter(
                f"No workspace {slug!r} (known: {known}).", param_hint="--workspace"
            )
        return workspace
    workspaces = list(Workspace.objects.order_by("pk")[:2])
    if len(workspaces) == 1:
        return workspaces[0]
    if not workspaces:
        raise click.ClickException(
            "There is no workspace yet: run `ascolto demo` or `ascolto createadmin` first."
        )
    known = ", ".join(Workspace.objects.values_list("slug", flat=True)[:20])
    raise click.UsageError(f"Several workspaces exist; choose one with --workspace ({known}).")


class _Bar:
    """A click progress bar fed with (done, total) calls."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=max(total, 1), label=self.label, show_pos=True)
            self.bar.__enter__()
        if total > self.bar.length:
            self.bar.length = total
        self.bar.update(max(0, done - self.shown))
        self.shown = max(self.shown, done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command("import")
@click.argument("kind", type=click.Choice(["customers", "orders"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="File format (default: from the file name: .csv, .jsonl/.ndjson).",
)
@click.option("--workspace", "workspace_slug", default=None, help="Workspace slug to import into.")
@click.option(
    "--workers",
    type=click.IntRange(0, 8),
    default=None,
    help="Processes validating rows (default: 2 for large files, 0 for small ones).",
)
@click.option(
    "--writers",
    type=click.IntRange(1, 8),
    default=None,
    help="Database connections writing at once, PostgreSQL only "
    "(default: 2 for large files, 1 for small ones).",
)
def import_(
    kind: str,
    file: Path,
    fmt: str | None,
    workspace_slug: str | None,
    workers: int | None,
    writers: int | None,
) -> None:
    """Import customers or orders from a CSV or JSON Lines FILE.

    Rows are upserted by external_id, so importing a file again updates what changed and
    creates nothing twice. Bad rows do not stop good ones: each problem is listed with its row
    (line of the file), field and message, and all of them go to an error file. Columns:

    \b
    customers: external_id, name, email, phone, whatsapp, locale, timezone,
               birthday, value_tier, attributes (JSON) or attr.<key> columns
    orders:    external_id, customer_external_id, status, placed_at, delivered_at,
               promised_at, total, currency, metadata (JSON), lines (JSON)

    Exit status: 0 when every row was imported, 3 when some rows were rejected, 1 when the
    file could not be imported.
    """
    from ascolto.customers import importer

    try:
        file_format = importer.detect_format(file, fmt)
    except importer.ImportFormatError as exc:
        raise click.UsageError(str(exc)) from None
    workspace = _workspace(workspace_slug)
    job = importer.import_job_create(
        workspace=workspace,
        kind=kind,  # type: ignore[arg-type]
        path=file.resolve(),
        fmt=file_format,
        original_name=file.name,
    )
    click.echo(f"Importing {kind} from {file} into {workspace.slug} (job #{job.pk})")
    bar = _Bar(f"{kind.capitalize()}")
    try:
        job = importer.run_import_job(job.pk, progress=bar, workers=workers, writers=writers)
    finally:
        bar.close()
    if job.status != "succeeded":
        raise click.ClickException(f"The import failed: {job.error}")
    result = job.result
    click.echo(
        f"{result['rows']:,} rows: {result['created']:,} created, {result['updated']:,} updated, "
        f"{result['unchanged']:,} unchanged, {result['failed_rows']:,} rejected "
        f"({result['seconds']} s)."
    )
    if kind == "orders":
        click.echo(f"Customer totals refreshed for {result['stats_refreshed']:,} customers.")
    if result["failed_rows"]:
        for error in result["errors"][:SHOWN_ERRORS]:
            where = f"row {error['row']}"
            if error["external_id"]:
                where += f" ({error['external_id']})"
            field = f" {error['field']}:" if error["field"] else ""
            click.echo(f"  {where}{field} {error['message']}", err=True)
        if result["error_count"] > SHOWN_ERRORS:
            click.echo(f"  … and {result['error_count'] - SHOWN_ERRORS:,} more.", err=True)
        click.echo(f"All errors: {result['error_file']}", err=True)
        raise SystemExit(3)


@click.command("demo")
@click.option(
    "--customers",
    type=click.IntRange(1, 10_000_000),
    default=300,
    show_default=True,
    help="How many customers (a million works, for benchmarks).",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Seed: same seed, same data.")
@click.option("--workspace", "workspace_slug", default="demo", show_default=True, help="Slug.")
def demo(customers: int, seed: int, workspace_slug: str) -> None:
    """Load deterministic, multilingual demo data (Italian, Hebrew and English customers with
    orders over the last two years, identities, consents and an agent team).

    Running it again adds only what is missing; nothing is duplicated.
    """
    from ascolto.customers.demo import demo_summary, load_demo

    bar = _Bar("Customers")
    try:
        workspace = load_demo(
            customers=customers, seed=seed, workspace_slug=workspace_slug, progress=bar
        )
    finally:
        bar.close()
    summary = demo_summary(workspace)
    click.echo(
        f"Workspace {workspace.name!r} ({workspace.slug}): {summary['customers']:,} customers, "
        f"{summary['orders']:,} orders, {summary['identities']:,} identities, "
        f"{summary['consents']:,} consents."
    )
