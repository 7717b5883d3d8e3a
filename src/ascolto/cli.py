"""The `ascolto` command line."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Ascolto: customer experience platform."""
