"""Survey settings read from Django settings, with their defaults.

ASCOLTO_SURVEYS_SENTIMENT    dotted path of a callable (text, language) -> label or score; the
                             closed loop and comment analytics use it when it can be imported
ASCOLTO_SURVEYS_PAGE_HITS    public page requests per IP per minute (default 60)
ASCOLTO_SURVEYS_STALE_MINUTES  an unfinished response untouched this long is closed (default 60)
"""

from __future__ import annotations

from django.conf import settings

from ascolto.core.links import absolute_url

DEFAULT_SENTIMENT = "ascolto.assistant.nlp.sentiment.classify"


def public_url(path: str) -> str:
    """`path` on ASCOLTO_PUBLIC_URL (see ascolto.core.links)."""
    return absolute_url(path)


def sentiment_path() -> str:
    return str(getattr(settings, "ASCOLTO_SURVEYS_SENTIMENT", DEFAULT_SENTIMENT))


def page_hits_per_minute() -> int:
    return int(getattr(settings, "ASCOLTO_SURVEYS_PAGE_HITS", 60))


def stale_minutes() -> int:
    return int(getattr(settings, "ASCOLTO_SURVEYS_STALE_MINUTES", 60))
