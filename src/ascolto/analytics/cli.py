"""`ascolto analytics ...` commands. Registered lazily in ascolto/cli.py (LAZY_COMMANDS)."""

from __future__ import annotations

import time

import click

from ascolto.analytics import rollups, workload_rollups
from ascolto.core.models import Workspace


@click.group()
def analytics() -> None:
    """Analytics: conversation metric rollups."""


@analytics.command("rollups")
@click.option("--full", is_flag=True, help="Rebuild every day instead of the changed ones.")
@click.option("--workspace", "slug", default="", help="One workspace (its slug); default all.")
def rollups_command(full: bool, slug: str) -> None:
    """Bring the daily conversation rollups and the agent-day and assistant-day rows up to
    date (the periodic jobs do this every 5 minutes)."""
    workspaces = Workspace.objects.order_by("pk")
    if slug:
        workspaces = workspaces.filter(slug=slug)
        if not workspaces.exists():
            raise click.ClickException(f"No workspace with the slug {slug!r}.")
    for workspace in workspaces:
        started = time.perf_counter()
        cpu = time.process_time()
        days = rollups.rollups_refresh(workspace=workspace, full=full)
        days += workload_rollups.workload_refresh(workspace=workspace, full=full)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        click.echo(
            f"{workspace.slug}: {days} day(s) rolled up in {elapsed:.1f} s (CPU {cpu:.1f} s)"
        )
