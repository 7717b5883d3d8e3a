# Hebrew letters in this module are intended, not look-alikes of Latin ones.
# ruff: noqa: RUF001
"""Text analysis for the lexical index: the same function shapes articles and queries.

English and Italian words are lower-cased, stripped of accents, filtered against a stop list and
reduced to their Snowball stems ("contatori" and "contatore" both become "contator"). Hebrew, and
any language without a stemmer, gets word tokens plus character n-grams (3 to 5) of each word,
so that a word written with an attached proclitic ("ובבית") still shares most of its n-grams
with the bare word ("בית") and inflected forms overlap without a morphological analyser.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import snowballstemmer  # type: ignore[import-untyped,unused-ignore]

STEMMERS = {"en": "english", "it": "italian"}
NGRAM_SIZES = (3, 4, 5)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_HEBREW_MARKS = re.compile(r"[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]")
_HEBREW_FINALS = str.maketrans({"ך": "כ", "ם": "מ", "ן": "נ", "ף": "פ", "ץ": "צ"})

_EN_STOP = """a about after again all also am an and any are as at be been before being both but by
can could did do does doing down during each few for from further had has have having he her
here hers him his how i if in into is it its itself just me more most my no nor not now of off
on once only or other our ours out over own same she should so some such than that the their
theirs them then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours"""
_IT_STOP = """a ad al alla alle allo agli ai anche avere c che chi ci come con cosa cui da dal dalla
dalle dallo dagli dai degli dei del della delle dello di dove e ed era essere gli ha hanno ho i
il in io la le lei li lo loro lui ma mi mia mie miei mio ne negli nei nel nella nelle nello no
noi non o per piu quale quali qual quando quanto quella quelle quelli quello questa queste
questi questo se si sia sono su sua sue sui sul sulla sulle suo suoi ti tra tu tua tue tuo tuoi
un una uno vi voi l d dell nell all dall sull coll quest quell"""
_HE_STOP = "של את על עם זה זו גם או אם כי לא הוא היא הם הן אני אתה יש אין מה איך"


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS: dict[str, frozenset[str]] = {
    "en": _word_set(_EN_STOP),
    "it": _word_set(_IT_STOP),
    "he": _word_set(_HE_STOP),
}


def fold(text: str) -> str:
    """NFKC, lower case, Hebrew points removed, Latin accents stripped ("è" -> "e")."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _HEBREW_MARKS.sub("", text)
    decomposed = unicodedata.normalize("NFD", text)
    # Only combining marks that follow a Latin letter go: Hebrew has no precomposed forms left.
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    ).translate(_HEBREW_FINALS)


@functools.cache
def _stemmer(language: str) -> snowballstemmer.stemmer | None:  # type: ignore[valid-type,unused-ignore]
    algorithm = STEMMERS.get(language)
    return snowballstemmer.stemmer(algorithm) if algorithm else None


@functools.lru_cache(maxsize=200_000)
def _stem(language: str, word: str) -> str:
    # Snowball is pure Python; a help center's vocabulary is small, so each word is stemmed once.
    stemmer = _stemmer(language)
    return str(stemmer.stemWord(word)) if stemmer is not None else word


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def analyze(text: str, language: str) -> list[str]:
    """The index terms of `text` in `language`, in order, repeated as often as they occur."""
    stop = STOP_WORDS.get(language, frozenset())
    tokens = [word for word in words(text) if word not in stop]
    if language in STEMMERS:
        return [_stem(language, word) for word in tokens]
    terms: list[str] = []
    for word in tokens:
        terms.append(word)
        if len(word) <= NGRAM_SIZES[0]:
            continue
        padded = f"_{word}_"
        for size in NGRAM_SIZES:
            terms.extend("#" + padded[i : i + size] for i in range(len(padded) - size + 1))
    return terms


def normalize_query(text: str) -> str:
    """The form under which searches are grouped in the content-gap report."""
    return " ".join(words(text))[:200]
