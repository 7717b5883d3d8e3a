"""A new visitor's first message gets the assistant's answer live: the answer is published
while the message is committed, before the socket has joined the visitor's group (the visitor
did not exist yet), so the socket reads it after joining instead of losing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async

from ascolto.assistant.models import AssistantSettings
from ascolto.assistant.triage_rules import clear_cache
from ascolto.core.actors import Actor
from ascolto.helpcenter.search import registry
from tests.connectors.webchat.conftest import Widget, make_article

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

pytest.importorskip("lingua")


@pytest.fixture
def assistant(widget: Any, settings: Any, tmp_path: Path) -> None:
    registry._indexes.clear()
    settings.ASCOLTO_MODELS_DIR = str(tmp_path / "models")
    clear_cache()
    make_article(
        widget.workspace,
        Actor.system("test"),
        "password",
        {"en": ("Reset your password", "To reset your password, choose Forgot password.")},
    )
    AssistantSettings.objects.create(workspace=widget.workspace, enabled=True)


async def test_the_assistant_answer_to_a_first_message_reaches_the_widget(
    app: Any, widget: Any, assistant: None
) -> None:
    tab = Widget(app, widget)
    await tab.open()

    ack = await tab.say("How do I reset my password?")
    answer = await tab.receive("message")

    assert answer["message"]["conversation_id"] == ack["message"]["conversation_id"]
    assert answer["message"]["id"] > ack["message"]["id"]
    assert "> To reset your password, choose Forgot password." in answer["message"]["text"]
    assert await tab.nothing()  # once, not twice
    await tab.close()


async def test_without_an_answer_the_first_message_gets_only_its_ack(
    app: Any, widget: Any, assistant: None
) -> None:
    await database_sync_to_async(AssistantSettings.objects.update)(enabled=False)
    tab = Widget(app, widget)
    await tab.open()
    await tab.say("How do I reset my password?")
    assert await tab.nothing()
    await tab.close()
