"""Search quality on QA4FAQ (EVALITA 2016): 406 Italian FAQs of a water utility.

Protocol (the dataset ships the knowledge base only, not the official user queries, so it is
used for paraphrase retrieval): each FAQ's question is a query; the documents are the FAQs'
answers with their tags (EVALITA's FAQ record minus the question, which would make retrieval
trivial); the target of a question is its own FAQ. Two FAQs with the same answer text are one
document to a reader, so retrieving either counts. Questions are split by id parity: even ids
(dev) were used to choose the fusion weight, odd ids (test) are reported apart.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ascolto.helpcenter.search.index import (
    DEFAULT_LEXICAL_WEIGHT,
    Document,
    FloatArray,
    HybridIndex,
)

COLUMNS = ("id", "question", "answer", "tag")


class DatasetFormatError(ValueError):
    """The file is not the QA4FAQ CSV (id;question;answer;tag)."""


@dataclass(frozen=True, slots=True)
class Faq:
    id: int
    question: str
    answer: str
    tag: str


@dataclass
class Report:
    queries: int
    mrr: float
    recall_at_1: float
    recall_at_5: float
    split: str = "all"
    details: dict[str, float] = field(default_factory=dict)


def read_faqs(path: Path) -> list[Faq]:
    """The FAQs of `path` (the CSV file, or the folder that holds faqs_uft8_QA.csv)."""
    if path.is_dir():
        path = path / "faqs_uft8_QA.csv"
    if not path.is_file():
        raise DatasetFormatError(f"{path} not found.")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise DatasetFormatError(
                f"{path} must have the columns {';'.join(COLUMNS)}, found {reader.fieldnames}."
            )
        faqs = []
        for line, row in enumerate(reader, start=2):
            try:
                faqs.append(
                    Faq(int(row["id"]), row["question"], row["answer"].strip(), row["tag"] or "")
                )
            except (TypeError, ValueError):
                raise DatasetFormatError(f"{path}:{line}: the id is not a number.") from None
    if not faqs:
        raise DatasetFormatError(f"{path} holds no FAQ.")
    return faqs


def documents(faqs: Sequence[Faq], *, with_tags: bool = True) -> list[Document]:
    return [
        Document(key=faq.id, title="", body=f"{faq.answer}\n{faq.tag}" if with_tags else faq.answer)
        for faq in faqs
    ]


def evaluate(
    faqs: Sequence[Faq],
    *,
    encode_many: Callable[[Sequence[str]], FloatArray] | None,
    lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
    with_tags: bool = True,
    split: str = "all",
) -> Report:
    """Rank every document for each question of `split` ("all", "dev" = even ids, "test" = odd)."""
    docs = documents(faqs, with_tags=with_tags)
    embeddings = None
    query_vectors: dict[int, FloatArray] = {}
    if encode_many is not None:
        embeddings = encode_many([doc.body for doc in docs])
        vectors = encode_many([faq.question for faq in faqs])
        query_vectors = {faq.id: vectors[i] for i, faq in enumerate(faqs)}
    current: list[int] = [0]

    def encode(_query: str) -> FloatArray:
        return query_vectors[current[0]]

    index = HybridIndex(
        docs,
        "it",
        embeddings=embeddings,
        encode=encode if encode_many is not None else None,
        lexical_weight=lexical_weight,
    )
    answer_of = {faq.id: faq.answer for faq in faqs}
    wanted = [faq for faq in faqs if split == "all" or (faq.id % 2 == 0) == (split == "dev")]
    reciprocal: list[float] = []
    at1 = at5 = 0
    for faq in wanted:
        current[0] = faq.id
        hits = index.search(faq.question, limit=len(docs))
        rank = next((i for i, hit in enumerate(hits, 1) if answer_of[hit.key] == faq.answer), None)
        reciprocal.append(1 / rank if rank else 0.0)
        at1 += rank == 1
        at5 += rank is not None and rank <= 5
    n = len(wanted)
    return Report(
        queries=n,
        mrr=float(np.mean(reciprocal)) if n else 0.0,
        recall_at_1=at1 / n if n else 0.0,
        recall_at_5=at5 / n if n else 0.0,
        split=split,
    )
