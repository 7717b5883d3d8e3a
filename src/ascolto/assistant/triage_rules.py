"""Triage in the product: which models a workspace uses, and the admin's rules on their output.

Models are files in the model store (`<ASCOLTO_MODELS_DIR>/workspace-<id>/` first, then
`global/`; the default directory is `<data dir>/models`), written by `ascolto nlp train`. A
workspace without model files still gets its language detected; intent and sentiment stay empty
and no rule fires. Loaded models are cached per process and reloaded when the file changes.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from django.conf import settings

from ascolto.assistant.nlp.intent import IntentModel
from ascolto.assistant.nlp.sentiment import SentimentModel
from ascolto.assistant.nlp.store import ModelFileError, ModelStore
from ascolto.assistant.nlp.triage import Triage

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_cache: dict[tuple[str, int], tuple[tuple[float, float], Triage]] = {}


def models_dir() -> Path:
    configured = getattr(settings, "ASCOLTO_MODELS_DIR", None)
    return Path(configured) if configured else Path(settings.DATA_DIR) / "models"


def _model_file(store: ModelStore, kind: str, workspace_id: int) -> Path | None:
    for scope in (workspace_id, None):
        path = store.path(kind, workspace_id=scope)
        if path.is_file():
            return path
    return None


def _mtime(path: Path | None) -> float:
    return path.stat().st_mtime if path is not None else 0.0


def triage_for(workspace_id: int, *, default_language: str | None = None) -> Triage:
    """The workspace's triage (its own models, else the global ones, else language only)."""
    store = ModelStore(models_dir())
    intent_path = _model_file(store, "intent", workspace_id)
    sentiment_path = _model_file(store, "sentiment", workspace_id)
    stamp = (_mtime(intent_path), _mtime(sentiment_path))
    key = (str(store.root), workspace_id)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    try:
        intent = IntentModel.load(intent_path) if intent_path else None
    except ModelFileError as error:
        logger.error("Intent model not used: %s", error)
        intent = None
    try:
        sentiment = SentimentModel.load(sentiment_path) if sentiment_path else None
    except ModelFileError as error:
        logger.error("Sentiment model not used: %s", error)
        sentiment = None
    triage = Triage(intent=intent, sentiment=sentiment, default_language=default_language)
    with _lock:
        _cache[key] = (stamp, triage)
    return triage


def clear_cache() -> None:
    with _lock:
        _cache.clear()
