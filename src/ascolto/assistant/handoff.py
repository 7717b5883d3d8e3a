"""The internal note an agent reads when the assistant hands a conversation over."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ascolto.assistant.bot import Signals
from ascolto.assistant.models import BotSession


def summary_text(*, signals: Signals, asked: str, suggested: list[str], reason: str) -> str:
    """A plain-text summary in the active language: the customer never repeats themselves."""
    unknown = _("unknown")
    intent = signals.intent or unknown
    if signals.intent and signals.intent_confidence is not None:
        intent = f"{signals.intent} ({signals.intent_confidence:.0%})"
    sentiment = signals.sentiment or unknown
    if signals.sentiment and signals.sentiment_confidence is not None:
        sentiment = f"{signals.sentiment} ({signals.sentiment_confidence:.0%})"
    lines = [
        _("The assistant handed this conversation over."),
        _("Reason: %(reason)s") % {"reason": BotSession.Reason(reason).label},
        _("Language: %(language)s") % {"language": signals.language or unknown},
        _("Intent: %(intent)s") % {"intent": intent},
        _("Sentiment: %(sentiment)s") % {"sentiment": sentiment},
        _("Asked: %(text)s") % {"text": asked[:500]},
        _("Suggested: %(articles)s")
        % {"articles": "; ".join(suggested) if suggested else _("nothing")},
    ]
    return "\n".join(lines)
