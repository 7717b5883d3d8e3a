"""USE multilingual v3's tokenizer with a cache of segmented words.

The encoder package ships a pure-Python port of SentencePiece: a normaliser (cheap) and a
unigram Viterbi segmentation over the whole normalised text (about a quarter of a millisecond
for a tweet, most of the tokenizer's time). In this vocabulary no piece holds the word
separator "▁" anywhere but at its start, so every "▁" of the normalised text starts a piece:
the best segmentation of a text is the best segmentation of each of its "▁word" runs, one after
the other. Customer messages reuse the same words all the time, so those runs are segmented once
and kept in a bounded cache; a message costs the normaliser plus one dictionary lookup per word.

`CachedTokenizer.wrap` checks that premise on the loaded vocabulary (and that the package's
tokenizer has the parts used here); when it does not hold, it returns None and the caller keeps
the package's tokenizer. The tests compare both on real messages.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

SPACE = "\u2581"
BOS, EOS = 1, 2
DEFAULT_CACHE_WORDS = 20_000


class CachedTokenizer:
    """`encode(text)` gives the ids the package's tokenizer gives, BOS and EOS included."""

    def __init__(self, tokenizer: Any, *, cache_words: int = DEFAULT_CACHE_WORDS) -> None:
        self._normalize = tokenizer._normalizer.normalize
        self._segment = tokenizer._viterbi
        self._unknown = int(tokenizer._unk_id)
        self.cache_words = max(int(cache_words), 0)
        self._cache: OrderedDict[str, tuple[int, ...]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def wrap(
        cls, tokenizer: Any, *, cache_words: int = DEFAULT_CACHE_WORDS
    ) -> CachedTokenizer | None:
        """A cached tokenizer over the package's, or None when its vocabulary or its parts
        are not what this class relies on."""
        try:
            pieces = tokenizer._pieces
            parts_ok = (
                callable(tokenizer._normalizer.normalize)
                and callable(tokenizer._viterbi)
                and isinstance(tokenizer._unk_id, int)
                and tokenizer._bos_id == BOS
                and tokenizer._eos_id == EOS
            )
        except AttributeError:
            return None
        if not parts_ok or any(SPACE in piece[1:] for piece in pieces):
            return None
        return cls(tokenizer, cache_words=cache_words)

    @property
    def cached_words(self) -> int:
        return len(self._cache)

    def encode(self, text: str) -> list[int]:
        normalized = self._normalize(text)
        if not normalized:
            return [BOS, self._unknown, EOS]
        ids = [BOS]
        cache = self._cache
        start = 0
        length = len(normalized)
        while start < length:
            end = normalized.find(SPACE, start + 1)
            if end < 0:
                end = length
            word = normalized[start:end]
            pieces = cache.get(word)
            if pieces is None:
                pieces = tuple(self._segment(word))
                self._remember(word, pieces)
            ids.extend(pieces)
            start = end
        ids.append(EOS)
        return ids

    def _remember(self, word: str, pieces: tuple[int, ...]) -> None:
        if self.cache_words == 0:
            return
        with self._lock:
            cache = self._cache
            if len(cache) >= self.cache_words:
                # Oldest first: cheap, and good enough for words.
                cache.popitem(last=False)
            cache[word] = pieces
