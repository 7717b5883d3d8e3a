# Hebrew letters in this module are intended, not look-alikes of Latin ones.
# ruff: noqa: RUF001, RUF003
"""Text normalisation shared by every triage model.

The same function runs at training and at prediction time, so a model never sees text shaped
differently from what it learned on. It is deliberately conservative: it removes what carries no
signal for intent or sentiment (user handles, URLs, Hebrew vowel points, letters stretched for
emphasis beyond two) and keeps everything else, emoji and punctuation included, because "!!!" and
":(" are sentiment.
"""

from __future__ import annotations

import re
import unicodedata

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_HANDLE = re.compile(r"(?<!\w)@\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ELONGATED = re.compile(r"(\w)\1{2,}")
_SPACES = re.compile(r"\s+")
# Hebrew points (niqqud) and cantillation marks: U+0591..U+05C7 except the letters' own range.
_HEBREW_MARKS = re.compile(r"[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]")
_HEBREW_LETTER = re.compile(r"[\u05d0-\u05ea]")
_HEBREW_FINALS = str.maketrans({"ך": "כ", "ם": "מ", "ן": "נ", "ף": "פ", "ץ": "צ"})
_HEBREW_WORD = re.compile(r"[\u05d0-\u05ea\"'׳״]+")
# One-letter proclitics written attached to the next word: ו (and), ה (the), ב (in), ל (to),
# מ (from), ש (that), כ (as). Up to two may stack ("וכש", "ובה").
_HEBREW_PREFIXES = "והבלמשכ"


def normalize(text: str) -> str:
    """Return the canonical form of a message for the triage models.

    NFKC, lower case, URLs / e-mail addresses / @handles / numbers replaced by placeholder words,
    letters repeated three times or more squeezed to two, Hebrew vowel points removed, spaces
    collapsed.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _HEBREW_MARKS.sub("", text)
    text = _URL.sub(" xurl ", text)
    text = _EMAIL.sub(" xemail ", text)
    text = _HANDLE.sub(" xuser ", text)
    text = _NUMBER.sub(" xnum ", text)
    text = text.lower()
    text = _ELONGATED.sub(r"\1\1", text)
    return _SPACES.sub(" ", text).strip()


def has_hebrew(text: str) -> bool:
    return _HEBREW_LETTER.search(text) is not None


def hebrew_stems(text: str) -> str:
    """Return extra tokens for the Hebrew words of `text`, with their proclitics stripped.

    Hebrew writes "and", "the", "in", "to", "from", "that" and "as" as one-letter prefixes, so
    "ובבית" ("and in the house") shares no word with "בית". For every Hebrew word of four letters
    or more this yields the word without one and without two leading prefix letters (when what
    remains still has three letters or more), with final letter forms folded. The caller appends
    these tokens to the word features; it cannot know which reading is right, and a linear model
    learns which stems carry weight. Non-Hebrew text returns "".
    """
    if not has_hebrew(text):
        return ""
    stems: list[str] = []
    for word in _HEBREW_WORD.findall(text):
        folded = word.translate(_HEBREW_FINALS).strip("\"'׳״")
        stems.append(folded)
        rest = folded
        for _ in range(2):
            if len(rest) >= 4 and rest[0] in _HEBREW_PREFIXES:
                rest = rest[1:]
                stems.append("s_" + rest)
            else:
                break
    return " ".join(stems)
