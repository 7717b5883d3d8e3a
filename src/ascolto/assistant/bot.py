"""What the assistant does with one customer message: a pure decision, no database writes.

The decision order matters and is part of the contract (docs/assistant.md): a request for a
person wins, then a sensitive topic, then negative sentiment, then the search's confidence.
The assistant never writes an answer of its own: without an article above the threshold there
is no answer, only a hand-off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ascolto.assistant.models import BotSession
from ascolto.assistant.nlp.text import normalize
from ascolto.helpcenter.selectors import SearchResult

Reason = BotSession.Reason

# Words a customer uses to ask for a person, by language. Latin-script words match whole words;
# Hebrew words also match after a one-letter prefix ("to", "the", "and"...).
_PERSON_WORDS = [
    # en
    r"agent",
    r"human",
    r"person",
    r"operator",
    r"representative",
    r"someone real",
    r"real person",
    r"talk to (?:a|an|some)one",
    # it
    r"operatore",
    r"operatrice",
    r"persona",
    r"umano",
    r"parlare con qualcuno",
    # es / fr / de / pt
    r"agente",
    r"humano",
    r"conseiller",
    r"humain",
    r"mitarbeiter",
    r"mensch",
    r"atendente",
]
_PERSON_LATIN = re.compile(r"\b(?:" + "|".join(_PERSON_WORDS) + r")s?\b", re.IGNORECASE)
_PERSON_HEBREW = re.compile(
    r"(?<![\u05d0-\u05ea])[ולהבמש]?(?:נציג|נציגה|אדם|בן אדם)(?![\u05d0-\u05ea])"
)

_YES = re.compile(
    r"^\s*(?:yes|yep|yeah|solved|it did|thanks?,? (?:it )?(?:worked|solved)|sì|si|risolto|"
    r"perfetto|כן|תודה,? (?:זה )?עזר|עזר)\b",
    re.IGNORECASE,
)
_NO = re.compile(r"^\s*(?:no|nope|not really|non|לא)\b", re.IGNORECASE)


def asks_for_person(text: str) -> bool:
    return bool(_PERSON_LATIN.search(text) or _PERSON_HEBREW.search(text))


def confirmation(text: str) -> bool | None:
    """True for "yes, solved", False for "no", None when the message is neither."""
    stripped = text.strip()
    if _NO.match(stripped):
        return False
    if _YES.match(stripped):
        return True
    return None


@dataclass(frozen=True)
class Signals:
    """What triage found in the message; None where no model gave an answer."""

    language: str
    intent: str | None = None
    intent_confidence: float | None = None
    sentiment: str | None = None
    sentiment_confidence: float | None = None


@dataclass(frozen=True)
class Policy:
    threshold: float
    sensitive_intents: frozenset[str] = frozenset()
    sensitive_keywords: tuple[str, ...] = ()
    negative_floor: float = 0.6


@dataclass(frozen=True)
class Decision:
    answer: SearchResult | None
    handoff: str | None
    candidates: list[SearchResult] = field(default_factory=list)


def _sensitive(text: str, signals: Signals, policy: Policy) -> bool:
    if signals.intent is not None and signals.intent in policy.sensitive_intents:
        return True
    folded = normalize(text)
    return any(k and normalize(k) in folded for k in policy.sensitive_keywords)


def decide(*, text: str, signals: Signals, policy: Policy, results: list[SearchResult]) -> Decision:
    """Answer with the best article, or hand off with a reason. Exactly one is set."""
    if asks_for_person(text):
        return Decision(None, Reason.ASKED_FOR_PERSON, results)
    if _sensitive(text, signals, policy):
        return Decision(None, Reason.SENSITIVE_TOPIC, results)
    if (
        signals.sentiment == "negative"
        and (signals.sentiment_confidence or 0.0) >= policy.negative_floor
    ):
        return Decision(None, Reason.NEGATIVE_SENTIMENT, results)
    best = max(results, key=lambda r: r.score, default=None)
    if best is None or best.score < policy.threshold:
        return Decision(None, Reason.LOW_CONFIDENCE, results)
    return Decision(best, None, results)
