from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ascolto.assistant.models import AssistantSettings
from ascolto.assistant.nlp.classifier import ClassifierConfig
from ascolto.assistant.nlp.intent import IntentModel
from ascolto.assistant.nlp.sentiment import DEFAULT, SentimentModel
from ascolto.assistant.nlp.store import ModelStore
from ascolto.assistant.triage_rules import clear_cache
from ascolto.core.actors import Actor
from ascolto.customers.models import Customer
from ascolto.helpcenter import services as help_services
from ascolto.helpcenter.models import Article
from ascolto.helpcenter.search import registry
from ascolto.inbox import services as inbox
from ascolto.inbox.models import Inbox, Message
from tests.api.conftest import api, make_token, member, other_api  # noqa: F401
from tests.assistant.corpora import INTENT_EXAMPLES, SENTIMENT_EXAMPLES, split
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory


@pytest.fixture(autouse=True)
def _fresh_state(settings: Any, tmp_path: Path) -> None:
    # Index and model caches are per process; database ids repeat between tests.
    registry._indexes.clear()
    settings.ASCOLTO_MODELS_DIR = str(tmp_path / "models")
    clear_cache()


@pytest.fixture
def train_models(settings: Any) -> Callable[..., None]:
    """Train small n-gram models (no sentence encoder) into the test's model store."""

    def train(workspace_id: int | None = None) -> None:
        store = ModelStore(settings.ASCOLTO_MODELS_DIR)
        config = ClassifierConfig(embedding_weight=0.0, char_min_df=1)
        IntentModel.train(*split(INTENT_EXAMPLES), config=config, use_embeddings=False).save(
            store.path("intent", workspace_id=workspace_id)
        )
        SentimentModel.train({DEFAULT: split(SENTIMENT_EXAMPLES)}, use_embeddings=False).save(
            store.path("sentiment", workspace_id=workspace_id)
        )
        clear_cache()

    return train


@pytest.fixture
def make_article(db: Any) -> Callable[..., Article]:
    counter = [0]

    def make(workspace: Any, actor: Actor, texts: dict[str, tuple[str, str]]) -> Article:
        counter[0] += 1
        article = help_services.article_create(
            workspace=workspace, actor=actor, slug=f"article-{counter[0]}", category=None
        )
        for language, (title, body) in texts.items():
            help_services.translation_save(
                article=article, actor=actor, language=language, title=title, body_markdown=body
            )
        help_services.article_publish(article=article, actor=actor)
        return article

    return make


@pytest.fixture
def enable_assistant() -> Callable[..., AssistantSettings]:
    def enable(workspace: Any, **fields: Any) -> AssistantSettings:
        config, _ = AssistantSettings.objects.update_or_create(
            workspace=workspace, defaults={"enabled": True, **fields}
        )
        return config

    return enable


@pytest.fixture
def chat_inbox(workspace: Any) -> Inbox:
    return InboxFactory(workspace=workspace, channel="webchat", routing="manual")  # type: ignore[no-any-return]


@pytest.fixture
def customer(workspace: Any) -> Customer:
    return CustomerFactory(workspace=workspace)  # type: ignore[no-any-return]


@pytest.fixture
def say(
    django_capture_on_commit_callbacks: Any,
) -> Callable[..., inbox.ReceiveResult]:
    """A customer writes; the outbox handlers (triage, bot) run as after a real commit."""

    def send(inbox_: Inbox, customer: Customer, text: str) -> inbox.ReceiveResult:
        with django_capture_on_commit_callbacks(execute=True):
            return inbox.message_receive(inbox=inbox_, customer=customer, text=text)

    return send


def thread(conversation: Any) -> list[Message]:
    return list(conversation.messages.order_by("created_at", "id"))
