"""The search indexes of this process: one per workspace and language, built from the database
when first needed and rebuilt when the published content has changed.

Whether an index is still current is read from the database on each search (the workspace's
IndexVersion, bumped by every service that changes published content), so a publish in one web
process is seen by every other process without a message between them. Embeddings are read
from the rows; only a translation saved while the encoder was unavailable is encoded here (in
memory).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import F

from ascolto.helpcenter.models import Article, ArticleTranslation, IndexVersion
from ascolto.helpcenter.search.embeddings import embedding_text, encode_unit, encoder_for
from ascolto.helpcenter.search.index import Document, FloatArray, HybridIndex

# Bounded so that a process serving many workspaces does not keep every index forever.
MAX_INDEXES = 256


@dataclass(frozen=True, slots=True)
class _Entry:
    stamp: int
    index: HybridIndex


_indexes: dict[tuple[int, str], _Entry] = {}
_lock = threading.Lock()


def _published(workspace_id: int, language: str) -> Any:
    return ArticleTranslation.objects.filter(
        workspace_id=workspace_id, language=language, article__status=Article.Status.PUBLISHED
    )


def _stamp(workspace_id: int) -> int:
    version = (
        IndexVersion.objects.filter(workspace_id=workspace_id)
        .values_list("version", flat=True)
        .first()
    )
    return version or 0


def bump(workspace_id: int) -> None:
    """Mark the workspace's indexes stale everywhere; call in the transaction of the change."""
    IndexVersion.objects.get_or_create(workspace_id=workspace_id)
    IndexVersion.objects.filter(workspace_id=workspace_id).update(version=F("version") + 1)


def _build(workspace_id: int, language: str) -> HybridIndex:
    rows = list(
        _published(workspace_id, language)
        .order_by("id")
        .values_list("id", "title", "body_text", "embedding", "embedding_model")
    )
    documents = [Document(key=pk, title=title, body=body) for pk, title, body, _, _ in rows]
    encoder = encoder_for(language)
    if encoder is None:
        return HybridIndex(documents, language)
    embeddings = np.zeros((len(rows), encoder.dim), dtype=np.float32)
    missing: list[int] = []
    for i, (_, _, _, blob, model) in enumerate(rows):
        if blob is not None and model == encoder.name:
            embeddings[i] = np.frombuffer(bytes(blob), dtype=np.float32)
        else:
            missing.append(i)
    if missing:
        texts = [embedding_text(rows[i][1], rows[i][2]) for i in missing]
        embeddings[missing] = encode_unit(encoder, texts)

    def encode(query: str) -> FloatArray:
        vector: FloatArray = encode_unit(encoder, [query])[0]
        return vector

    return HybridIndex(documents, language, embeddings=embeddings, encode=encode)


def index_for(workspace_id: int, language: str) -> HybridIndex:
    """The current index of published translations of `workspace_id` in `language`."""
    key = (workspace_id, language)
    stamp = _stamp(workspace_id)
    entry = _indexes.get(key)
    if entry is not None and entry.stamp == stamp:
        return entry.index
    index = _build(workspace_id, language)
    with _lock:
        if len(_indexes) >= MAX_INDEXES and key not in _indexes:
            _indexes.pop(next(iter(_indexes)))
        _indexes[key] = _Entry(stamp=stamp, index=index)
    return index


def invalidate(workspace_id: int, language: str | None = None) -> None:
    """Forget this process's index (all languages when `language` is None)."""
    with _lock:
        for key in [k for k in _indexes if k[0] == workspace_id]:
            if language is None or key[1] == language:
                _indexes.pop(key, None)
