"""Comment themes: time to group a survey's latest comments (the report's limit, 2,000) per
language. Run: python bench/surveys_themes.py [comments]. Prints the median of 5 runs."""

from __future__ import annotations

import random
import statistics
import sys
import time

from ascolto.surveys.themes import Comment, extract_themes

PHRASES = {
    "en": [
        "late delivery",
        "parcel damaged",
        "refund missing",
        "charged twice",
        "helpful agent",
        "quick answer",
        "website slow",
        "checkout broken",
        "great product",
        "size too small",
    ],
    "it": [
        "consegna in ritardo",
        "pacco rotto",
        "rimborso mancante",
        "addebito doppio",
        "operatore gentile",
        "risposta rapida",
        "sito lento",
        "pagamento bloccato",
        "prodotto ottimo",
        "taglia piccola",
    ],
    "he": [
        "המשלוח איחר",
        "החבילה שבורה",
        "הזיכוי לא הגיע",
        "חיוב כפול",
        "נציג אדיב",
        "תשובה מהירה",
        "האתר איטי",
        "התשלום נתקע",
        "מוצר מעולה",
        "המידה קטנה",
    ],
}


def corpus(language: str, n: int, rng: random.Random) -> list[Comment]:
    phrases = PHRASES[language]
    return [Comment(" ".join(rng.sample(phrases, 2)), float(rng.randint(0, 10))) for _ in range(n)]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rng = random.Random(7)
    for language in ("en", "it", "he"):
        comments = corpus(language, n, rng)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            themes = extract_themes(comments, language=language)
            times.append(time.perf_counter() - start)
        print(
            f"themes {language}: {n} comments -> {len(themes)} themes, "
            f"median {statistics.median(times) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
