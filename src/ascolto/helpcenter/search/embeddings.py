"""Sentence embeddings of articles and queries: the project's encoder, unit-length vectors."""

from __future__ import annotations

import numpy as np

from ascolto.assistant.nlp.embedding import SentenceEncoder, default_encoder
from ascolto.helpcenter.search.index import FloatArray


def encoder_for(language: str) -> SentenceEncoder | None:
    encoder = default_encoder()
    if encoder is None or language not in encoder.languages:
        return None
    return encoder


def embedding_text(title: str, body_text: str) -> str:
    return f"{title}\n\n{body_text}"


def encode_unit(encoder: SentenceEncoder, texts: list[str]) -> FloatArray:
    vectors = encoder.encode(texts)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(vectors / norms, dtype=np.float32)
