"""The triage of one message with this checkout's code against an older checkout's, taking turns.

    git worktree add /tmp/baseline main
    python bench/nlp_triage_compare.py --baseline-src /tmp/baseline/src --models DIR

Both load the same model files (`intent.npz`, `sentiment.npz` from `ascolto nlp train` or
`bench/nlp_eval.py`) and triage the same 600 messages (200 BANKING77 test in English, 200 UMSAB
val in Italian, 200 Hebrew dev), one message at a time, the two implementations alternating
(which one goes first alternates too), so a shared machine's load weighs on both alike. Figures
are CPU time of the calling thread (what a call costs on an idle core) and wall clock, p50 / p95,
for two passes over the messages (the second with the encoder's caches warm), overall and per
language. It also checks that both give the same predictions.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nlp_eval import banking77, default_datasets, hebrew, umsab

_MODULES = ("intent", "sentiment", "triage")


def _load(src: Path | None) -> dict[str, ModuleType]:
    """The nlp modules of the checkout at `src` (None: the importable one), under their own
    names in sys.modules while importing, then set aside so that the other checkout can load."""
    saved = {name: module for name, module in sys.modules.items() if name.startswith("ascolto")}
    for name in saved:
        del sys.modules[name]
    if src is not None:
        sys.path.insert(0, str(src))
    try:
        modules = {
            name: importlib.import_module(f"ascolto.assistant.nlp.{name}") for name in _MODULES
        }
    finally:
        if src is not None:
            sys.path.remove(str(src))
        for name in [name for name in sys.modules if name.startswith("ascolto")]:
            del sys.modules[name]
        sys.modules.update(saved)
    return modules


def _triage(modules: dict[str, ModuleType], models: Path) -> Any:
    return modules["triage"].Triage(
        intent=modules["intent"].IntentModel.load(models / "intent.npz"),
        sentiment=modules["sentiment"].SentimentModel.load(models / "sentiment.npz"),
    )


def _percentiles(values: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(values, [50, 95])
    return float(p50), float(p95)


def _of(values: list[float], languages: list[str], code: str) -> list[float]:
    return [value for value, language in zip(values, languages, strict=True) if language == code]


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return bool(a.label == b.label and abs(a.confidence - b.confidence) <= 1e-4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--datasets", type=Path, default=default_datasets())
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()
    root: Path = args.datasets
    texts = (
        banking77(root, "test")[0][:200]
        + umsab(root, "italian", "val")[0][:200]
        + hebrew(root, "dev")[0][:200]
    )
    languages = ["en"] * 200 + ["it"] * 200 + ["he"] * 200
    runs: dict[str, Callable[[str], Any]] = {
        "baseline": _triage(_load(args.baseline_src), args.models).run,
        "this checkout": _triage(_load(None), args.models).run,
    }
    load = os.getloadavg()
    print(f"{len(texts)} messages, load average {load[0]:.1f} at start", flush=True)
    for text in texts[:5]:
        for run in runs.values():
            run(text)
    differences = 0
    for number in range(1, args.passes + 1):
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        wall: dict[str, list[float]] = {name: [] for name in runs}
        for position, text in enumerate(texts):
            order = list(runs) if position % 2 == 0 else list(reversed(runs))
            results = {}
            for name in order:
                started, started_cpu = time.perf_counter(), time.thread_time()
                results[name] = runs[name](text)
                cpu[name].append((time.thread_time() - started_cpu) * 1000)
                wall[name].append((time.perf_counter() - started) * 1000)
            first, second = results.values()
            for field in ("intent", "sentiment"):
                differences += not _same(getattr(first, field), getattr(second, field))
        print(f"== pass {number}")
        for name in runs:
            c50, c95 = _percentiles(cpu[name])
            w50, w95 = _percentiles(wall[name])
            per_language = ", ".join(
                f"{code} {_percentiles(_of(cpu[name], languages, code))[1]:.2f}"
                for code in ("en", "it", "he")
            )
            print(
                f"{name:14s} CPU p50 {c50:.2f} ms, p95 {c95:.2f} ms (p95 {per_language}); "
                f"wall p50 {w50:.2f}, p95 {w95:.2f} ms",
                flush=True,
            )
    load = os.getloadavg()
    print(f"predictions that differ: {differences}; load average {load[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
