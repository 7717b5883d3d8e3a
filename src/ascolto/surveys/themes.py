"""Comment themes: survey comments grouped into recurring topics per language, with readable
labels (keywords and a representative comment) and each theme's effect on the score.

Pure: no database. Comments of one language are vectorised with TF-IDF (stemmed words for
English and Italian; character n-grams inside words for Hebrew, whose attached prefixes defeat
word matching) and clustered with k-means (fixed seed, so the same comments give the same
themes). A theme's effect is the mean score of the comments in it minus the mean of the others:
the most negative effects are the pain points.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import snowballstemmer  # type: ignore[import-untyped,unused-ignore]
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer

from ascolto.assistant.nlp.text import normalize

STEMMERS = {"en": "english", "it": "italian"}
# More themes than this stop being readable on one page, and cost k-means time.
MAX_THEMES = 10
LANGUAGES = ("en", "it", "he")
_WORD = re.compile(r"[^\W\d_]{3,}")
# Words too common in comments of any topic to label one.
STOP_WORDS = {
    "en": set(
        [
            "the",
            "and",
            "was",
            "were",
            "for",
            "with",
            "that",
            "this",
            "you",
            "your",
            "have",
            "has",
            "had",
            "not",
            "but",
            "are",
            "they",
            "them",
            "very",
            "our",
            "all",
            "again",
            "from",
            "too",
            "what",
            "when",
            "who",
            "will",
            "would",
            "there",
            "their",
            "been",
            "just",
            "about",
        ]
    ),
    "it": set(
        [
            "che",
            "non",
            "per",
            "con",
            "una",
            "uno",
            "gli",
            "del",
            "della",
            "dei",
            "delle",
            "nel",
            "nella",
            "sono",
            "era",
            "hanno",
            "molto",
            "più",
            "anche",
            "come",
            "questo",
            "questa",
            "vostro",
            "vostra",
            "alla",
            "allo",
            "all",
            "dal",
        ]
    ),
    "he": set(
        [
            "את",
            "של",
            "על",
            "עם",
            "זה",
            "זו",
            "לא",
            "גם",
            "היה",
            "היו",
            "הם",
            "אני",
            "אנחנו",
            "מאוד",
            "כל",
            "רק",
        ]
    ),
}


SPARKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class Comment:
    text: str
    score: float | None = None
    # For trends: the comment's week, 0 = the oldest of the period shown (None: outside it).
    week: int | None = None


@dataclass(frozen=True, slots=True)
class Theme:
    language: str
    keywords: tuple[str, ...]
    representative: str
    members: tuple[int, ...]
    mean_with: float | None
    mean_without: float | None
    weekly: tuple[int, ...] = ()  # the theme's comments per week, oldest first

    @property
    def sparkline(self) -> str:
        """`weekly` as block characters, one a week (the page's trend column)."""
        top = max(self.weekly, default=0) or 1
        return "".join(SPARKS[round(n / top * (len(SPARKS) - 1))] for n in self.weekly)

    @property
    def effect(self) -> float | None:
        if self.mean_with is None or self.mean_without is None:
            return None
        return self.mean_with - self.mean_without


def _stem_analyzer(language: str) -> Callable[[str], list[str]]:
    stemmer = snowballstemmer.stemmer(STEMMERS[language])
    stop = STOP_WORDS[language]

    def analyze(text: str) -> list[str]:
        words = [w for w in _WORD.findall(normalize(text)) if w not in stop]
        return list(stemmer.stemWords(words))

    return analyze


def _vectorizer(language: str) -> TfidfVectorizer:
    if language == "he":
        return TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 4), preprocessor=normalize, sublinear_tf=True
        )
    return TfidfVectorizer(analyzer=_stem_analyzer(language), sublinear_tf=True)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _keywords(language: str, texts: Sequence[str], members: list[int], limit: int) -> list[str]:
    """Words frequent in the theme and rarer elsewhere, as the customers wrote them."""
    stop = STOP_WORDS[language]
    documents = [set(_WORD.findall(normalize(t))) - stop for t in texts]
    inside = Counter(w for i in members for w in documents[i])
    overall = Counter(w for d in documents for w in d)
    share = len(members) / len(texts)
    ranked = sorted(
        (w for w, n in inside.items() if n > 1 or len(members) == 1),
        key=lambda w: (-(inside[w] - overall[w] * share), w),
    )
    return ranked[:limit]


def extract_themes(
    comments: Sequence[Comment],
    *,
    language: str,
    k: int | None = None,
    keywords: int = 3,
    weeks: int = 0,
) -> list[Theme]:
    """Group the comments of one language into `k` themes (default: about sqrt(n / 2), at most
    MAX_THEMES).

    Raises ValueError for a language other than en/it/he or a `k` outside 1..len(comments).
    Blank comments are left out; a theme's `members` are indices into `comments`. Themes come
    largest first; fewer than two comments give no themes. With `weeks`, each theme counts its
    comments per week (`Comment.week`, 0 the oldest) in `weekly`: its trend."""
    if language not in LANGUAGES:
        raise ValueError(f"Themes are extracted for {', '.join(LANGUAGES)}, not {language!r}.")
    positions = [i for i, c in enumerate(comments) if c.text.strip()]
    kept = [comments[i] for i in positions]
    texts = [c.text for c in kept]
    if len(texts) < 2:
        return []
    clusters = k if k is not None else min(MAX_THEMES, max(2, round(math.sqrt(len(texts) / 2))))
    if not 1 <= clusters <= len(texts):
        raise ValueError(f"Between 1 and {len(texts)} themes can be made from these comments.")
    matrix = _vectorizer(language).fit_transform(texts)
    model = KMeans(n_clusters=clusters, n_init=10, random_state=0).fit(matrix)
    distances = model.transform(matrix)
    themes = []
    for label in range(clusters):
        members = [i for i, assigned in enumerate(model.labels_) if assigned == label]
        if not members:
            continue
        nearest = members[int(np.argmin(distances[members, label]))]
        member_set = set(members)
        inside = [s for i in members if (s := kept[i].score) is not None]
        outside = [
            c.score for i, c in enumerate(kept) if i not in member_set and c.score is not None
        ]
        themes.append(
            Theme(
                language=language,
                keywords=tuple(_keywords(language, texts, members, keywords)),
                representative=texts[nearest],
                members=tuple(positions[i] for i in members),
                mean_with=_mean(inside),
                mean_without=_mean(outside),
                weekly=_weekly([kept[i] for i in members], weeks),
            )
        )
    return sorted(themes, key=lambda t: (-len(t.members), t.representative))


def _weekly(comments: Sequence[Comment], weeks: int) -> tuple[int, ...]:
    counts = [0] * weeks
    for comment in comments:
        if comment.week is not None and 0 <= comment.week < weeks:
            counts[comment.week] += 1
    return tuple(counts)


def pain_points(themes: Sequence[Theme], *, limit: int = 3) -> list[Theme]:
    """The themes that lower the score most (negative effect only), worst first."""
    hurting = [t for t in themes if t.effect is not None and t.effect < 0]
    return sorted(hurting, key=lambda t: (t.effect or 0.0, t.representative))[:limit]
