"""An in-memory hybrid index: BM25 over analysed terms, fused with sentence-embedding cosine.

Scores are made comparable before they are mixed. The lexical score of a document is its BM25
divided by the best BM25 any document could get for that query (every query term matched at the
saturation limit), which puts it in [0, 1] whatever the query's length; the semantic score is
the cosine of the query's and the document's embeddings. The fused score is
`lexical_weight * lexical + (1 - lexical_weight) * semantic`, an absolute figure, so the top
score of a search also says how good its best answer is (the content-gap report uses it).
Without embeddings (Hebrew, or the encoder package absent) the lexical score stands alone.

The structure is built once from the documents and is read-only afterwards, so searches from
several threads share it without locks.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ascolto.assistant.nlp.embedding import one_blas_thread
from ascolto.helpcenter.search.analysis import analyze

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]

K1 = 1.2
B = 0.75
# Tuned on the even-numbered half of the QA4FAQ questions (see docs/helpcenter.md).
DEFAULT_LEXICAL_WEIGHT = 0.6
TITLE_BOOST = 2


@dataclass(frozen=True, slots=True)
class Document:
    key: int
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Hit:
    key: int
    score: float
    lexical: float
    semantic: float


class HybridIndex:
    """Documents of one language. `embeddings` has one unit-length row per document, or is
    None for lexical-only search; `encode` turns a query into the same space."""

    def __init__(
        self,
        documents: Sequence[Document],
        language: str,
        *,
        embeddings: FloatArray | None = None,
        encode: Callable[[str], FloatArray] | None = None,
        lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
    ) -> None:
        if embeddings is not None and embeddings.shape[0] != len(documents):
            raise ValueError("One embedding per document is needed.")
        self.language = language
        self.keys = np.array([doc.key for doc in documents], dtype=np.int64)
        self.lexical_weight = lexical_weight
        self._embeddings = embeddings if encode is not None else None
        self._encode = encode if embeddings is not None else None
        self._build_postings(documents)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def semantic(self) -> bool:
        return self._embeddings is not None

    def _build_postings(self, documents: Sequence[Document]) -> None:
        counts: list[Counter[str]] = []
        for doc in documents:
            terms = analyze(doc.title, self.language) * TITLE_BOOST
            terms += analyze(doc.body, self.language)
            counts.append(Counter(terms))
        n = len(documents)
        lengths = np.array([sum(c.values()) for c in counts], dtype=np.float32)
        average = float(lengths.mean()) if n else 0.0
        norm = K1 * (1 - B + B * lengths / average) if average else np.full(n, K1)
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for doc_index, counter in enumerate(counts):
            for term, tf in counter.items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(doc_index)
                tfs.append(tf)
        self._postings: dict[str, tuple[IntArray, FloatArray]] = {}
        self._idf: dict[str, float] = {}
        for term, (ids, tfs) in postings.items():
            doc_ids = np.array(ids, dtype=np.int32)
            frequencies = np.array(tfs, dtype=np.float32)
            idf = math.log(1 + (n - len(ids) + 0.5) / (len(ids) + 0.5))
            self._idf[term] = idf
            weights = idf * frequencies * (K1 + 1) / (frequencies + norm[doc_ids])
            self._postings[term] = (doc_ids, weights.astype(np.float32))

    def lexical_scores(self, query: str) -> FloatArray:
        """BM25 of every document divided by the query's best possible BM25 (0 to 1)."""
        scores = np.zeros(len(self.keys), dtype=np.float32)
        best = 0.0
        for term, repeats in Counter(analyze(query, self.language)).items():
            posting = self._postings.get(term)
            if posting is None:
                continue
            doc_ids, weights = posting
            scores[doc_ids] += weights * repeats
            best += self._idf[term] * (K1 + 1) * repeats
        return scores / best if best else scores

    def semantic_scores(self, query: str) -> FloatArray | None:
        if self._embeddings is None or self._encode is None:
            return None
        vector = self._encode(query)
        # One BLAS thread: a second one costs more in hand-over than this product takes.
        with one_blas_thread():
            return np.asarray(self._embeddings @ vector, dtype=np.float32)

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        """The best `limit` documents, best first; documents that share no term with the query
        and (without embeddings) score nothing are left out."""
        if not len(self.keys) or limit < 1:
            return []
        lexical = self.lexical_scores(query)
        semantic = self.semantic_scores(query)
        if semantic is None:
            fused = lexical
            candidates = np.flatnonzero(lexical > 0)
        else:
            weight = self.lexical_weight
            fused = weight * lexical + (1 - weight) * semantic
            candidates = np.arange(len(self.keys))
        if not len(candidates):
            return []
        if len(candidates) > limit:
            part = np.argpartition(-fused[candidates], limit - 1)[:limit]
            candidates = candidates[part]
        order = candidates[np.argsort(-fused[candidates], kind="stable")]
        return [
            Hit(
                key=int(self.keys[i]),
                score=float(fused[i]),
                lexical=float(lexical[i]),
                semantic=float(semantic[i]) if semantic is not None else 0.0,
            )
            for i in order
        ]
