"""`ascolto recommendations`: recompute the stored pairs now, or evaluate on a transactions file."""

from __future__ import annotations

from pathlib import Path

import click
from django.db import transaction

from ascolto.core.models import Workspace
from ascolto.recommendations import evaluation, services

DEFAULT_DATASET = Path("../shared/datasets/online_retail_sample/online_retail_sample.csv")


@click.group()
def recommendations() -> None:
    """Recommendations: recompute and evaluate."""


@recommendations.command()
@click.option("--workspace", "slug", default="", help="One workspace's slug (default: all).")
def recompute(slug: str) -> None:
    """Recompute bought-together pairs and item cycles now (the nightly job does it too)."""
    workspaces = Workspace.objects.order_by("pk")
    if slug:
        workspaces = workspaces.filter(slug=slug)
        if not workspaces.exists():
            raise click.ClickException(f"No workspace with slug {slug!r}.")
    for workspace in workspaces:
        with transaction.atomic():
            done = services.affinities_recompute(workspace=workspace)
        click.echo(
            f"{workspace.slug}: {done.orders} orders, {done.items} items, "
            f"{done.pairs} pairs, {done.cycles} item cycles"
        )


@recommendations.command(name="eval")
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DATASET,
    show_default=True,
    help="Transactions in the UCI Online Retail layout.",
)
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--train-share", default=0.8, show_default=True, type=click.FloatRange(0.1, 0.95))
def eval_(path: Path, k: int, train_share: float) -> None:
    """Hit-rate@k of bought-together on a time split, against a popularity baseline."""
    if not path.exists():
        raise click.ClickException(f"{path} does not exist (see ../shared/datasets).")
    lines = evaluation.read_online_retail(path)
    result = evaluation.hit_rate(lines, k=k, train_share=train_share)
    click.echo(
        f"{len(lines)} lines; split at {result.split:%Y-%m-%d %H:%M}; "
        f"{result.train_orders} training orders, {result.pairs} pairs"
    )
    click.echo(
        f"evaluable customers {result.evaluable}: hit-rate@{k} bought-together "
        f"{result.rate:.3f} ({result.hits}), popularity {result.baseline_rate:.3f} "
        f"({result.baseline_hits})"
    )
