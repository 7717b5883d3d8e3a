"""Self-service in a real browser: a visitor asks the chat widget a question a published
help-center article answers, the assistant replies quoting the passage with the article's
address, the visitor then asks for a person, and the agent who opens the conversation in the
console reads the assistant's hand-off summary (language, question, intent, sentiment, what it
suggested) instead of asking the customer to repeat themselves.

Runs on the console test's server (uvicorn in a thread, the product's sockets) against the test
database, SQLite or PostgreSQL (+ Redis for the channel layer); outbox events are dispatched
on commit (Huey immediate), as a worker would. Skipped where Chromium or Playwright is missing,
except in CI. Writes no screenshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ascolto.assistant.models import AssistantSettings, BotSession
from ascolto.assistant.nlp.classifier import ClassifierConfig
from ascolto.assistant.nlp.intent import IntentModel
from ascolto.assistant.nlp.sentiment import DEFAULT, SentimentModel
from ascolto.assistant.nlp.store import ModelStore
from ascolto.assistant.triage_rules import clear_cache
from ascolto.connectors.webchat.config import widget_settings
from ascolto.core.actors import Actor
from ascolto.helpcenter.search import registry
from ascolto.inbox.models import AgentProfile, Conversation, Message
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.assistant.corpora import INTENT_EXAMPLES, SENTIMENT_EXAMPLES, split
from tests.connectors.webchat.conftest import make_article, make_widget
from tests.e2e import test_browser_console as console
from tests.e2e.test_browser_console import LAUNCHER, PASSWORD, ConsoleServer, _agent, _wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

pytest.importorskip("lingua")

# The console test's Chromium, live server and ORM-beside-Playwright fixtures.
server = console.server

WAIT = 20_000  # ms: the assistant's turn runs on commit, on a shared 2-core machine
QUESTION = "How do I reset my password?"
PASSAGE = "To reset your password, open Sign in and choose Forgot password"
ARTICLE = (
    "Reset your password",
    PASSAGE + "; we email you a link that works for one hour.\n\n"
    "If the email does not arrive, check your spam folder.",
)


@pytest.fixture
def models(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Small n-gram intent and sentiment models (no sentence encoder) for the triage."""
    registry._indexes.clear()  # per-process search indexes; database ids repeat between tests
    settings.ASCOLTO_MODELS_DIR = str(tmp_path / "models")
    store = ModelStore(settings.ASCOLTO_MODELS_DIR)
    config = ClassifierConfig(embedding_weight=0.0, char_min_df=1)
    IntentModel.train(*split(INTENT_EXAMPLES), config=config, use_embeddings=False).save(
        store.path("intent", workspace_id=None)
    )
    SentimentModel.train({DEFAULT: split(SENTIMENT_EXAMPLES)}, use_embeddings=False).save(
        store.path("sentiment", workspace_id=None)
    )
    clear_cache()
    yield
    clear_cache()
    registry._indexes.clear()


def _shop() -> dict[str, Any]:
    workspace = WorkspaceFactory(name="Caffè Aurora", timezone="Europe/Rome")
    sara = UserFactory(username="sara", first_name="Sara", last_name="Ferri")
    sara.set_password(PASSWORD)
    sara.save()
    MembershipFactory(workspace=workspace, user=sara, role="agent")
    AgentProfile.objects.create(workspace=workspace, user=sara, availability="online")
    widget = make_widget(workspace, title="Caffè Aurora", greeting={"en": "Hi! How can we help?"})
    article = make_article(workspace, Actor.for_user(sara), "password", {"en": ARTICLE})
    AssistantSettings.objects.create(workspace=workspace, enabled=True)
    return {
        "key": widget_settings(widget.config).key,
        "url": f"/help/{workspace.slug}/en/a/{article.translations.get(language='en').slug}/",
    }


def test_the_assistant_answers_then_hands_off_and_the_agent_reads_the_summary(
    browser: Browser, server: ConsoleServer, models: None, settings: Any
) -> None:
    from playwright.sync_api import expect

    settings.ASCOLTO_PUBLIC_URL = server.url  # answers link the article on the public address
    shop = server.db(_shop)
    visitor_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    visitor_context.set_default_timeout(20_000)
    visitor = visitor_context.new_page()
    visitor.goto(f"{server.url}/widget/demo/?key={shop['key']}")
    visitor.locator(LAUNCHER).click()
    expect(visitor.get_by_role("dialog")).to_be_visible()
    log = visitor.get_by_role("log")

    # The article is offered before the conversation starts; the visitor still writes to us.
    visitor.get_by_label("Message").fill(QUESTION)
    visitor.keyboard.press("Enter")
    offered = log.get_by_role("group", name="These articles may answer your question")
    expect(offered.get_by_role("link", name="Reset your password")).to_be_visible()
    log.get_by_role("button", name="I still need help").click()

    # The assistant answers live: the passage quoted, the article's address, the question.
    expect(log).to_contain_text("Did this solve it? Reply yes or no.", timeout=WAIT)
    expect(log).to_contain_text(PASSAGE)
    expect(log).to_contain_text(f"Reset your password: {server.url}{shop['url']}")
    expect(log.get_by_text("Did this solve it?")).to_have_count(1)
    session = _wait_for(
        server,
        lambda: BotSession.objects.filter(state=BotSession.State.ANSWERED).first(),
        "the assistant's answer",
    )

    # Asking for a person hands the conversation over, with a summary for the agent.
    visitor.get_by_label("Message").fill("I want to talk to a human")
    visitor.keyboard.press("Enter")
    handed_off = _wait_for(
        server,
        lambda: BotSession.objects.filter(pk=session.pk, state=BotSession.State.HANDED_OFF).first(),
        "the hand-off",
    )
    assert handed_off.handoff_reason == BotSession.Reason.ASKED_FOR_PERSON
    conversation_id = handed_off.conversation_id
    assert (
        server.db(
            lambda: Message.objects.filter(
                conversation_id=conversation_id, kind=Message.Kind.BOT
            ).count()
        )
        == 1  # the assistant answered once and stayed quiet after the request for a person
    )

    # The agent opens the conversation in the console and reads the summary in the thread.
    agent_context, console = _agent(browser, server, "sara")
    row = console.locator(f'.conv-row[data-conversation-id="{conversation_id}"]')
    expect(row).to_contain_text("I want to talk to a human", timeout=WAIT)
    row.locator(".conv-link").click()
    thread = console.locator("#thread-items")
    expect(thread.locator(".msg-inbound")).to_have_count(2, timeout=WAIT)
    expect(thread.locator(".msg-bot")).to_contain_text(PASSAGE)
    note = thread.locator(".msg-note")
    expect(note).to_have_count(1)
    expect(note).to_contain_text("The assistant handed this conversation over.")
    expect(note).to_contain_text("Reason: Asked for a person")
    expect(note).to_contain_text("Language: en")
    expect(note).to_contain_text("Asked: How do I reset my password?")
    expect(note).to_contain_text("Intent: ")
    expect(note).to_contain_text("Sentiment: ")
    expect(note).to_contain_text("Suggested: Reset your password")
    status = server.db(lambda: Conversation.objects.get(pk=conversation_id).status)
    assert status == Conversation.Status.OPEN

    for context in (agent_context, visitor_context):
        context.close()
