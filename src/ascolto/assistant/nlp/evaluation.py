"""Measure the triage models on anyone's own labelled data.

Input format (documented in docs/nlp.md): a UTF-8 CSV file with a header row naming the columns
`text` and `label` (other columns are ignored), one example per row, any number of lines inside a
quoted text. Sentiment labels are free strings too (for example negative / neutral / positive).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ascolto.assistant.nlp.classifier import TextClassifier
from ascolto.assistant.nlp.embedding import SentenceEncoder, default_encoder
from ascolto.assistant.nlp.intent import INTENT_CONFIG
from ascolto.assistant.nlp.sentiment import config_for
from ascolto.assistant.nlp.text import has_hebrew

Task = Literal["intent", "sentiment"]
TASKS: tuple[Task, ...] = ("intent", "sentiment")
REQUIRED_COLUMNS = ("text", "label")


class DatasetFormatError(ValueError):
    """The CSV file cannot be read as text,label examples; the message says where and why."""


@dataclass(frozen=True)
class ClassScores:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvaluationReport:
    task: str
    train_examples: int
    test_examples: int
    accuracy: float
    macro_f1: float
    per_class: list[ClassScores]
    training_seconds: float
    prediction_ms_per_message: float
    unseen_labels: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [
            f"task: {self.task}",
            f"train examples: {self.train_examples}   test examples: {self.test_examples}",
            f"accuracy: {self.accuracy * 100:.2f}",
            f"macro-F1: {self.macro_f1 * 100:.2f}",
            f"training time: {self.training_seconds:.1f} s   "
            f"prediction: {self.prediction_ms_per_message:.2f} ms per message (batched)",
        ]
        if self.unseen_labels:
            lines.append(
                "labels in the test file but not in the training file (always wrong): "
                + ", ".join(self.unseen_labels)
            )
        width = max([len("label"), *(len(scores.label) for scores in self.per_class)])
        lines.append("")
        lines.append(f"{'label':<{width}}  precision  recall     f1  support")
        for scores in self.per_class:
            lines.append(
                f"{scores.label:<{width}}  {scores.precision * 100:9.2f}  "
                f"{scores.recall * 100:6.2f}  {scores.f1 * 100:5.2f}  {scores.support:7d}"
            )
        return "\n".join(lines)


def read_labelled_csv(path: Path | str) -> tuple[list[str], list[str]]:
    """Read text,label examples; raises DatasetFormatError naming the file and the row."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path}: no such file.")
    texts: list[str] = []
    labels: list[str] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            missing = [column for column in REQUIRED_COLUMNS if column not in header]
            if missing:
                found = ", ".join(header) if header else "nothing"
                raise DatasetFormatError(
                    f"{path}: the first row must name the columns text and label "
                    f"(missing: {', '.join(missing)}; found: {found})."
                )
            reader.fieldnames = header
            for row in reader:
                line = reader.line_num
                text = (row.get("text") or "").strip()
                label = (row.get("label") or "").strip()
                if not text and not label:
                    continue
                if not text:
                    raise DatasetFormatError(f"{path}, line {line}: the text is empty.")
                if not label:
                    raise DatasetFormatError(f"{path}, line {line}: the label is empty.")
                texts.append(text)
                labels.append(label)
    except UnicodeDecodeError as error:
        raise DatasetFormatError(
            f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8 CSV."
        ) from error
    except csv.Error as error:
        raise DatasetFormatError(f"{path}: not a valid CSV file ({error}).") from error
    if not texts:
        raise DatasetFormatError(f"{path}: no examples after the header row.")
    return texts, labels


def scores(
    truth: Sequence[str], predicted: Sequence[str]
) -> tuple[float, float, list[ClassScores]]:
    """Accuracy, macro-F1 and per-class scores over the labels present in `truth`."""
    labels = sorted(set(truth))
    truth_array = np.array(truth, dtype=object)
    predicted_array = np.array(predicted, dtype=object)
    per_class = []
    for label in labels:
        is_true = truth_array == label
        is_predicted = predicted_array == label
        hits = int(np.sum(is_true & is_predicted))
        precision = hits / int(is_predicted.sum()) if is_predicted.any() else 0.0
        recall = hits / int(is_true.sum())
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(ClassScores(label, precision, recall, f1, int(is_true.sum())))
    accuracy = float(np.mean(truth_array == predicted_array)) if len(truth) else 0.0
    macro_f1 = float(np.mean([item.f1 for item in per_class])) if per_class else 0.0
    return accuracy, macro_f1, per_class


def train_for_task(
    task: Task,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    encoder: SentenceEncoder | None = None,
    use_embeddings: bool = True,
) -> TextClassifier:
    """The classifier `ascolto nlp train` would build for this task and data."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; use one of {', '.join(TASKS)}.")
    if task == "intent":
        config = INTENT_CONFIG
    else:
        hebrew_share = sum(has_hebrew(text) for text in texts) / max(len(texts), 1)
        config = config_for("he" if hebrew_share > 0.5 else "default")
    if use_embeddings and config.embedding_weight > 0 and encoder is None:
        encoder = default_encoder()
    return TextClassifier(config, encoder if use_embeddings else None).fit(texts, labels)


def measure(
    classifier: TextClassifier,
    task: str,
    train: tuple[Sequence[str], Sequence[str]],
    test: tuple[Sequence[str], Sequence[str]],
) -> EvaluationReport:
    """Scores of a classifier trained on `train` over the examples of `test`."""
    test_texts, test_labels = test
    started = time.perf_counter()
    predictions = classifier.predict(test_texts)
    per_message_ms = (time.perf_counter() - started) * 1000 / max(len(test_texts), 1)
    accuracy, macro_f1, per_class = scores(test_labels, [p.label for p in predictions])
    return EvaluationReport(
        task=task,
        train_examples=len(train[0]),
        test_examples=len(test_texts),
        accuracy=accuracy,
        macro_f1=macro_f1,
        per_class=per_class,
        training_seconds=classifier.training_seconds,
        prediction_ms_per_message=per_message_ms,
        unseen_labels=sorted(set(test_labels) - set(train[1])),
    )


def evaluate(
    task: Task,
    train: tuple[Sequence[str], Sequence[str]],
    test: tuple[Sequence[str], Sequence[str]],
    *,
    encoder: SentenceEncoder | None = None,
    use_embeddings: bool = True,
) -> EvaluationReport:
    classifier = train_for_task(task, *train, encoder=encoder, use_embeddings=use_embeddings)
    return measure(classifier, task, train, test)


def evaluate_files(
    task: Task, train_path: Path | str, test_path: Path | str, *, use_embeddings: bool = True
) -> EvaluationReport:
    """`ascolto nlp eval`: read both files first so a format error costs no training time."""
    train = read_labelled_csv(train_path)
    test = read_labelled_csv(test_path)
    return evaluate(task, train, test, use_embeddings=use_embeddings)
