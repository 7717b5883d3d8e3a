"""Measure the triage models on the shared datasets.

    python bench/nlp_eval.py [--datasets DIR] [--only banking77,umsab-it,...] [--per-class]

For each task: accuracy, macro-F1, per-class scores (with --per-class), training time, model
size on disk, and the latency of one message (p50/p95, embedding included). Then language
detection accuracy per dataset and the latency of a whole triage (language + intent +
sentiment) of one message. Data is read from ../shared/datasets next to the repository (or
--datasets); nothing is copied. Train on the train split, measure on the official test / dev /
val split; no setting is tuned on these splits (see docs/nlp.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ascolto.assistant.nlp.classifier import TextClassifier
from ascolto.assistant.nlp.embedding import UniversalSentenceEncoder
from ascolto.assistant.nlp.evaluation import EvaluationReport, measure, scores, train_for_task
from ascolto.assistant.nlp.intent import IntentModel
from ascolto.assistant.nlp.language import detect_language
from ascolto.assistant.nlp.sentiment import SentimentModel
from ascolto.assistant.nlp.triage import Triage

Examples = tuple[list[str], list[str]]
SENTIMENT_NAMES = {"0": "negative", "1": "neutral", "2": "positive"}
HEBREW_NAMES = {"0": "positive", "1": "negative", "2": "neutral"}


def default_datasets() -> Path:
    repository = Path(__file__).resolve().parent.parent
    for candidate in (repository.parent / "shared" / "datasets", Path("/work/shared/datasets")):
        if candidate.is_dir():
            return candidate
    return repository.parent / "shared" / "datasets"


def _lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def banking77(root: Path, split: str) -> Examples:
    with (root / "banking77" / f"{split}.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    return [row["text"] for row in rows], [row["category"] for row in rows]


def umsab(root: Path, language: str, split: str) -> Examples:
    folder = root / "umsab_sentiment" / language
    texts = _lines(folder / f"{split}_text.txt")
    labels = [SENTIMENT_NAMES[value.strip()] for value in _lines(folder / f"{split}_labels.txt")]
    return texts, labels


def hebrew(root: Path, split: str) -> Examples:
    texts, labels = [], []
    lines = _lines(root / "hebrew_sentiment" / "token" / f"{split}.tsv")
    for line in lines[1:]:
        if not line.strip():
            continue
        text, label = line.rsplit("\t", 1)
        texts.append(text.strip())
        labels.append(HEBREW_NAMES[label.strip()])
    return texts, labels


def xsid(root: Path, language: str) -> Examples:
    texts, labels = [], []
    text = None
    for line in _lines(root / "xsid" / f"{language}.valid.conll"):
        if line.startswith("# text ="):
            text = line.split("=", 1)[1].strip()
        elif line.startswith("# intent =") and text is not None:
            texts.append(text)
            labels.append(line.split("=", 1)[1].strip())
            text = None
    return texts, labels


def latency_ms(
    function: Callable[[str], object], texts: list[str]
) -> tuple[float, float, float, float]:
    """Wall-clock p50 / p95 and CPU-time p50 / p95 of one call, in milliseconds.

    On a shared machine the wall clock includes waiting for a core; the CPU time is what the
    call costs, i.e. its wall time on an idle machine.
    """
    for text in texts[:5]:
        function(text)
    wall, cpu = [], []
    for text in texts:
        started, started_cpu = time.perf_counter(), time.process_time()
        function(text)
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    wall50, wall95 = np.percentile(wall, [50, 95])
    cpu50, cpu95 = np.percentile(cpu, [50, 95])
    return float(wall50), float(wall95), float(cpu50), float(cpu95)


def interleaved_ms(
    functions: dict[str, Callable[[str], object]], texts: list[str]
) -> dict[str, tuple[float, float, float, float]]:
    """`latency_ms` of several implementations, called in turn on each text, so a shared
    machine's load weighs on all of them alike."""
    for text in texts[:5]:
        for function in functions.values():
            function(text)
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in functions}
    for text in texts:
        for name, function in functions.items():
            started, started_cpu = time.perf_counter(), time.thread_time()
            function(text)
            samples[name][1].append((time.thread_time() - started_cpu) * 1000)
            samples[name][0].append((time.perf_counter() - started) * 1000)
    result = {}
    for name, (wall, cpu) in samples.items():
        wall50, wall95 = np.percentile(wall, [50, 95])
        cpu50, cpu95 = np.percentile(cpu, [50, 95])
        result[name] = (float(wall50), float(wall95), float(cpu50), float(cpu95))
    return result


def encoder_comparison(root: Path) -> dict[str, object]:
    """The package's forward pass against ours (token cache), one message at a time."""
    ours, package = UniversalSentenceEncoder(), UniversalSentenceEncoder(fast=False)
    probe = banking77(root, "test")[0][:300] + umsab(root, "italian", "val")[0][:300]
    figures = interleaved_ms(
        {
            "package forward": lambda text: package.encode([text]),
            "our forward": lambda text: ours.encode([text]),
        },
        probe,
    )
    print(f"== sentence encoder, one message ({len(probe)} en/it messages, interleaved)")
    result: dict[str, object] = {}
    for name, (p50, p95, cpu50, cpu95) in figures.items():
        print(
            f"{name:16s} wall p50 {p50:.2f} ms, p95 {p95:.2f} ms; "
            f"CPU p50 {cpu50:.2f} ms, p95 {cpu95:.2f} ms"
        )
        result[name] = {"cpu_p50_ms": round(cpu50, 2), "cpu_p95_ms": round(cpu95, 2)}
    print(flush=True)
    return result


def file_mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def report_task(
    name: str,
    report: EvaluationReport,
    classifier: TextClassifier,
    probe: list[str],
    out: Path,
    per_class: bool,
) -> dict[str, object]:
    path = out / f"{name}.npz"
    if report.task == "intent":
        IntentModel(classifier).save(path)
    else:
        SentimentModel({"default": classifier}).save(path)
    p50, p95, cpu50, cpu95 = latency_ms(lambda text: classifier.predict_one(text), probe)
    print(f"== {name}")
    text = report.format()
    if not per_class:
        text = text.split("\n\n")[0]
    print(text)
    print(f"training CPU time: {classifier.training_cpu_seconds:.1f} s")
    print(
        f"model file: {file_mb(path):.1f} MB   one message: wall p50 {p50:.2f} ms, "
        f"p95 {p95:.2f} ms; CPU p50 {cpu50:.2f} ms, p95 {cpu95:.2f} ms"
    )
    print(flush=True)
    return {
        "accuracy": round(report.accuracy * 100, 2),
        "macro_f1": round(report.macro_f1 * 100, 2),
        "training_seconds": round(report.training_seconds, 1),
        "training_cpu_seconds": round(classifier.training_cpu_seconds, 1),
        "latency_cpu_p50_ms": round(cpu50, 2),
        "latency_cpu_p95_ms": round(cpu95, 2),
        "model_mb": round(file_mb(path), 1),
        "latency_p50_ms": round(p50, 2),
        "latency_p95_ms": round(p95, 2),
        "train": report.train_examples,
        "test": report.test_examples,
    }


def run_task(
    name: str,
    task: str,
    train: Examples,
    test: Examples,
    out: Path,
    per_class: bool,
    results: dict[str, object],
    trained: dict[str, TextClassifier],
) -> None:
    classifier = train_for_task(
        task,  # type: ignore[arg-type]
        *train,
        use_embeddings=not name.endswith("-ngrams"),
    )
    report = measure(classifier, task, train, test)
    trained[name] = classifier
    results[name] = report_task(name, report, classifier, test[0][:300], out, per_class)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, default=default_datasets())
    parser.add_argument(
        "--only",
        default="banking77,umsab-it,umsab-en,hebrew,xsid-en-it,language,triage",
        help="comma-separated subset; banking77-ngrams (no sentence encoder) and encoder "
        "(package forward pass against ours) are off by default",
    )
    parser.add_argument(
        "--models",
        type=Path,
        help="measure the triage with intent.npz and sentiment.npz from this folder "
        "(as written by `ascolto nlp train`) instead of the models trained here",
    )
    parser.add_argument("--per-class", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    root: Path = args.datasets
    if not root.is_dir():
        print(f"datasets not found at {root}; pass --datasets", file=sys.stderr)
        return 2
    only = set(args.only.split(","))
    load = os.getloadavg()
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} at start"
    )
    results: dict[str, object] = {}
    trained: dict[str, TextClassifier] = {}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        if "banking77" in only:
            run_task(
                "banking77", "intent", banking77(root, "train"), banking77(root, "test"),
                out, args.per_class, results, trained,
            )  # fmt: skip
        if "banking77-ngrams" in only:
            run_task(
                "banking77-ngrams", "intent", banking77(root, "train"),
                banking77(root, "test"), out, args.per_class, results, trained,
            )  # fmt: skip
        if "umsab-it" in only:
            run_task(
                "umsab-it", "sentiment", umsab(root, "italian", "train"),
                umsab(root, "italian", "val"), out, args.per_class, results, trained,
            )  # fmt: skip
        if "umsab-en" in only:
            run_task(
                "umsab-en", "sentiment", umsab(root, "english", "train"),
                umsab(root, "english", "val"), out, args.per_class, results, trained,
            )  # fmt: skip
        if "hebrew" in only:
            run_task(
                "hebrew", "sentiment", hebrew(root, "train"), hebrew(root, "dev"),
                out, args.per_class, results, trained,
            )  # fmt: skip
        if "xsid-en-it" in only:
            run_task(
                "xsid-en-it", "intent", xsid(root, "en"), xsid(root, "it"),
                out, args.per_class, results, trained,
            )  # fmt: skip
        if "encoder" in only:
            results["encoder"] = encoder_comparison(root)
        if "language" in only:
            language_sets = {
                "banking77 test (en)": (banking77(root, "test")[0], "en"),
                "umsab val (it)": (umsab(root, "italian", "val")[0], "it"),
                "umsab val (en)": (umsab(root, "english", "val")[0], "en"),
                "xsid valid (it)": (xsid(root, "it")[0], "it"),
                "xsid valid (en)": (xsid(root, "en")[0], "en"),
                "hebrew dev (he)": (hebrew(root, "dev")[0], "he"),
            }
            print("== language detection")
            languages: dict[str, object] = {}
            for label, (texts, code) in language_sets.items():
                guesses = [detect_language(text).code for text in texts]
                accuracy, _, _ = scores([code] * len(texts), guesses)
                p50, p95, cpu50, cpu95 = latency_ms(detect_language, texts[:500])
                print(
                    f"{label:22s} accuracy {accuracy * 100:6.2f}  ({len(texts)} texts)  "
                    f"wall p50 {p50:.3f} ms, p95 {p95:.3f} ms; CPU p95 {cpu95:.3f} ms"
                )
                languages[label] = round(accuracy * 100, 2)
            results["language"] = languages
            print(flush=True)
        triage: Triage | None = None
        if "triage" in only and args.models is not None:
            triage = Triage(
                intent=IntentModel.load(args.models / "intent.npz"),
                sentiment=SentimentModel.load(args.models / "sentiment.npz"),
            )
        elif "triage" in only and {"banking77", "umsab-it", "hebrew"} <= trained.keys():
            triage = Triage(
                intent=IntentModel(trained["banking77"]),
                sentiment=SentimentModel(
                    {
                        "default": trained["umsab-it"],
                        "it": trained["umsab-it"],
                        "he": trained["hebrew"],
                    }
                ),
            )
        if triage is not None:
            probe = (
                banking77(root, "test")[0][:200]
                + umsab(root, "italian", "val")[0][:200]
                + hebrew(root, "dev")[0][:200]
            )
            p50, p95, cpu50, cpu95 = latency_ms(triage.run, probe)
            print("== triage of one message (language + intent + sentiment)")
            print(
                f"{len(probe)} messages (en/it/he): wall p50 {p50:.2f} ms, p95 {p95:.2f} ms; "
                f"CPU p50 {cpu50:.2f} ms, p95 {cpu95:.2f} ms"
            )
            results["triage"] = {
                "latency_p50_ms": round(p50, 2),
                "latency_p95_ms": round(p95, 2),
                "latency_cpu_p50_ms": round(cpu50, 2),
                "latency_cpu_p95_ms": round(cpu95, 2),
            }
            for code, start in (("en", 0), ("it", 200), ("he", 400)):
                p50, p95, cpu50, cpu95 = latency_ms(triage.run, probe[start : start + 200])
                print(
                    f"  {code}: wall p50 {p50:.2f} ms, p95 {p95:.2f} ms; "
                    f"CPU p50 {cpu50:.2f} ms, p95 {cpu95:.2f} ms"
                )
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} at end")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
