"""Offline language detection for inbound messages and survey comments.

Three steps, cheapest first:
1. Script: Hebrew letters mean Hebrew; Greek, Cyrillic, Arabic, CJK, Thai and the others are
   settled by the detector among the languages written in that script.
2. Very short Latin-script texts ("ciao", "ok thanks", "grazie mille") are where statistical
   detectors guess; a small list of greetings and thanks in the languages customers write to us
   in answers those.
3. Everything else goes to Lingua (Apache-2.0, models inside the wheel) in its low-accuracy mode,
   which uses trigram models only: ~50 MB of memory for the common languages instead of ~500 MB,
   and well under a millisecond per message. Its weakness is texts of a word or two, hence step 2.

Trigram models alone confuse close languages on short texts ("where is my parcel" scores as
Slovak). Most messages a workspace receives are in a few languages it knows about, so those
(`preferred`, by default Italian, English and Hebrew) get a prior weight before the scores are
renormalised: another language must be clearly more likely to win. A result below
`min_confidence` is reported as unknown (code "und") rather than guessed; the caller then uses
the workspace's default language.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from ascolto.assistant.nlp.text import has_hebrew

UNKNOWN = "und"

# ISO 639-1 codes of the languages detected: the larger European languages, the Middle East, the
# big Asian ones. Lingua knows 75; each extra candidate close to Italian or English (Danish,
# Slovak, Slovenian...) costs accuracy on short messages, so only widely spoken ones are in.
COMMON_LANGUAGES = (
    "en", "it", "he", "fr", "de", "es", "pt", "nl", "ca", "ro", "pl", "cs", "sv", "hu", "el",
    "bg", "ru", "uk", "tr", "ar", "fa", "hi", "zh", "ja", "ko", "th", "vi", "id",
)  # fmt: skip

# Short messages a statistical detector cannot place. Only words that are not also everyday
# words of another candidate language ("no", "si", "ok" are left out).
_SHORT_PHRASES: dict[str, tuple[str, ...]] = {
    "it": (
        "ciao", "grazie", "grazie mille", "buongiorno", "buonasera", "buonanotte", "salve",
        "prego", "perfetto", "va bene", "d'accordo", "ottimo", "certo", "aiuto", "scusate",
        "arrivederci", "gentilissimi", "gentilissimo", "gentilissima", "ok grazie", "sì grazie",
    ),
    "en": (
        "hi", "hello", "hey", "thanks", "thank you", "thanks a lot", "ok thanks", "okay thanks",
        "great", "perfect", "sure", "help", "yes please", "no thanks", "good morning",
        "good evening", "cheers", "bye", "goodbye", "sorry",
    ),
    "fr": ("bonjour", "bonsoir", "merci", "merci beaucoup", "salut", "au revoir", "d'accord"),
    "de": ("hallo", "danke", "danke schön", "vielen dank", "guten tag", "tschüss", "bitte"),
    "es": ("hola", "gracias", "muchas gracias", "buenos días", "buenas tardes", "adiós", "vale"),
    "pt": ("olá", "obrigado", "obrigada", "muito obrigado", "bom dia", "boa tarde", "tchau"),
}  # fmt: skip
_PHRASE_LANGUAGE = {phrase: code for code, phrases in _SHORT_PHRASES.items() for phrase in phrases}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words that only one of these languages uses every day. Trigram models misplace short
# questions ("How do I reset my password?" scores as Italian); two or more of a language's
# function words and none of another's settle it.
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the my is are was do does did how what where when why can could would i you your "
        "it this that with have has not our we to of and order"
    ),
    "it": _words(
        "il lo gli della del dei che è sono mio mia miei mie come dove quando perché posso "
        "non con per una uno ho ha mi ci vi sul nel alla al questo questa"
    ),
    "fr": _words(
        "le les est mon ma mes où comment quand pourquoi je vous avec pour une des ne pas "
        "cette ce suis"
    ),
    "de": _words(
        "der die das ist mein meine wo wie wann warum ich sie mit für nicht eine ein und bin habe"
    ),
    "es": _words(
        "el los las es mi mis dónde donde cómo cuándo por qué yo usted con para una pero "
        "está estoy tengo"
    ),
}
_PUNCTUATION = re.compile(r"[^\w\s']+")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class LanguageGuess:
    code: str
    confidence: float

    @property
    def known(self) -> bool:
        return self.code != UNKNOWN


class LanguageDetector:
    """Thread-safe; the Lingua models load on first use (about 0.1 s)."""

    def __init__(
        self,
        languages: tuple[str, ...] = COMMON_LANGUAGES,
        *,
        preferred: tuple[str, ...] = ("it", "en", "he"),
        prior_weight: float = 4.0,
        min_confidence: float = 0.3,
    ) -> None:
        self.languages = languages
        self.preferred = frozenset(preferred)
        self.prior_weight = prior_weight
        self.min_confidence = min_confidence
        self._lingua: Any = None
        self._lock = threading.Lock()

    def _detector(self) -> Any:
        """The Lingua detector, or None when lingua-language-detector is not installed."""
        if self._lingua is None:
            with self._lock:
                if self._lingua is None:
                    try:
                        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
                    except ImportError:
                        self._lingua = False
                        return None
                    selected = [
                        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                        for code in self.languages
                    ]
                    self._lingua = (
                        LanguageDetectorBuilder.from_languages(*selected)
                        .with_low_accuracy_mode()
                        .with_preloaded_language_models()
                        .build()
                    )
        return self._lingua or None

    def detect(self, text: str) -> LanguageGuess:
        letters = len(_LETTER.findall(text))
        if letters == 0:
            return LanguageGuess(UNKNOWN, 0.0)
        if has_hebrew(text) and "he" in self.languages:
            hebrew = len(re.findall(r"[\u05d0-\u05ea]", text))
            if hebrew * 2 >= letters:
                return LanguageGuess("he", 1.0)
        phrase = _PUNCTUATION.sub(" ", text.lower()).split()
        key = " ".join(phrase)
        if key in _PHRASE_LANGUAGE and _PHRASE_LANGUAGE[key] in self.languages:
            return LanguageGuess(_PHRASE_LANGUAGE[key], 0.9)
        by_words = self._function_word_vote(phrase)
        if by_words is not None:
            return LanguageGuess(by_words, 0.8)
        detector = self._detector()
        if detector is None:
            return LanguageGuess(UNKNOWN, 0.0)
        values = detector.compute_language_confidence_values(text)
        if not values:
            return LanguageGuess(UNKNOWN, 0.0)
        weighted: dict[str, float] = {}
        for value in values:
            code = value.language.iso_code_639_1.name.lower()
            prior = self.prior_weight if code in self.preferred else 1.0
            weighted[code] = float(value.value) * prior
        total = sum(weighted.values())
        if total <= 0:
            return LanguageGuess(UNKNOWN, 0.0)
        code = max(weighted, key=weighted.__getitem__)
        confidence = weighted[code] / total
        if confidence < self.min_confidence:
            return LanguageGuess(UNKNOWN, confidence)
        return LanguageGuess(code, confidence)

    def _function_word_vote(self, words: list[str]) -> str | None:
        """The language whose function words make up the text's, when that is unambiguous:
        at least two of one language and none of any other candidate."""
        hits = {
            code: sum(word in vocabulary for word in words)
            for code, vocabulary in _FUNCTION_WORDS.items()
            if code in self.languages
        }
        ranked = sorted(hits.items(), key=lambda item: item[1], reverse=True)
        if not ranked or ranked[0][1] < 2:
            return None
        if len(ranked) > 1 and ranked[1][1] > 0:
            return None
        return ranked[0][0]


_default: LanguageDetector | None = None
_default_lock = threading.Lock()


def default_detector() -> LanguageDetector:
    global _default
    with _default_lock:
        if _default is None:
            _default = LanguageDetector()
        return _default


def detect_language(text: str) -> LanguageGuess:
    """The language of `text` as an ISO 639-1 code with a confidence in [0, 1]."""
    return default_detector().detect(text)
