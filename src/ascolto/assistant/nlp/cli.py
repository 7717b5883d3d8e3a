"""`ascolto nlp ...` commands. Registered on the main group with `main.add_command(nlp)`."""

from __future__ import annotations

from pathlib import Path

import click

from ascolto.assistant.nlp.classifier import TrainingDataError
from ascolto.assistant.nlp.evaluation import (
    TASKS,
    DatasetFormatError,
    evaluate_files,
    read_labelled_csv,
)
from ascolto.assistant.nlp.intent import IntentModel
from ascolto.assistant.nlp.sentiment import DEFAULT, SentimentModel
from ascolto.assistant.nlp.store import ModelStore


@click.group()
def nlp() -> None:
    """Triage models: language, intent and sentiment."""


@nlp.command("eval")
@click.option("--task", type=click.Choice(TASKS), required=True)
@click.option("--train", "train_path", type=click.Path(path_type=Path), required=True)
@click.option("--test", "test_path", type=click.Path(path_type=Path), required=True)
@click.option(
    "--no-embeddings", is_flag=True, help="Use n-gram features only (no sentence encoder)."
)
def eval_command(task: str, train_path: Path, test_path: Path, no_embeddings: bool) -> None:
    """Train on TRAIN, measure on TEST (CSV files with text,label columns)."""
    try:
        report = evaluate_files(
            task,  # type: ignore[arg-type]
            train_path,
            test_path,
            use_embeddings=not no_embeddings,
        )
    except (DatasetFormatError, TrainingDataError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(report.format())


@nlp.command("train")
@click.option("--task", type=click.Choice(TASKS), required=True)
@click.option("--train", "train_path", type=click.Path(path_type=Path), required=True)
@click.option("--models", "models_dir", type=click.Path(path_type=Path), required=True)
@click.option("--workspace", "workspace_id", type=int, default=None)
@click.option(
    "--language",
    default=DEFAULT,
    show_default=True,
    help="Sentiment only: the language these examples are in (he, it, en...) or 'default'.",
)
def train_command(
    task: str, train_path: Path, models_dir: Path, workspace_id: int | None, language: str
) -> None:
    """Train a model from a text,label CSV file and save it in the model store."""
    store = ModelStore(models_dir)
    try:
        texts, labels = read_labelled_csv(train_path)
        if task == "intent":
            intent = IntentModel.train(texts, labels)
            path = intent.save(store.path("intent", workspace_id=workspace_id))
        else:
            target = store.path("sentiment", workspace_id=workspace_id)
            trained = SentimentModel.train({language: (texts, labels)})
            if target.is_file():
                existing = SentimentModel.load(target)
                existing.classifiers.update(trained.classifiers)
                trained = existing
            path = trained.save(target)
    except (DatasetFormatError, TrainingDataError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"saved {task} model ({len(texts)} examples) to {path}")


@nlp.command("train-workspace")
@click.argument("slug")
@click.option(
    "--label",
    type=click.Choice(["tag", "team"]),
    default="tag",
    show_default=True,
    help="What to learn: the conversations' tag (those with exactly one) or their team.",
)
@click.option(
    "--models",
    "models_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Model store (default: where triage loads models, <data dir>/models).",
)
@click.option(
    "--no-embeddings", is_flag=True, help="Use n-gram features only (no sentence encoder)."
)
def train_workspace_command(
    slug: str, label: str, models_dir: Path | None, no_embeddings: bool
) -> None:
    """Train the intent model of workspace SLUG from its past conversations; triage uses it
    for new messages from then on."""
    from ascolto.cli import setup_django

    setup_django()
    from ascolto.assistant.selectors import labelled_history
    from ascolto.assistant.triage_rules import models_dir as default_models_dir
    from ascolto.core.models import Workspace

    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise click.ClickException(f"No workspace {slug!r}.")
    texts, labels = labelled_history(workspace=workspace, label=label)
    store = ModelStore(models_dir or default_models_dir())
    try:
        model = IntentModel.train(texts, labels, use_embeddings=not no_embeddings)
    except TrainingDataError as error:
        raise click.ClickException(
            f"Cannot train from the history of {slug!r} ({len(texts)} labelled conversations): "
            f"{error}"
        ) from error
    path = model.save(store.path("intent", workspace_id=workspace.pk))
    click.echo(
        f"saved intent model ({len(texts)} conversations, {len(set(labels))} labels) to {path}"
    )
