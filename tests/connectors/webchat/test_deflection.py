"""Pre-chat deflection over the widget's websocket: the first question is held, matching help
articles are offered in the visitor's language (recorded), and "this solved it" is counted."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from ascolto.assistant import selectors as assistant_selectors
from ascolto.assistant import services as assistant_services
from ascolto.assistant.models import DeflectionOffer
from ascolto.inbox.models import Conversation, Message
from tests.connectors.webchat.conftest import Widget, make_article

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

RETURNS = {
    "en": (
        "Return an item",
        "You can return an item within 30 days: open your orders, choose the item and click "
        "Return.",
    ),
    "it": (
        "Restituire un articolo",
        "Puoi restituire un articolo entro 30 giorni: apri i tuoi ordini e fai clic su "
        "Restituisci.",
    ),
}


@pytest.fixture
def returns_article(workspace: Any, actor: Any) -> Any:
    return make_article(workspace, actor, "returns", RETURNS)


async def suggest(tab: Widget, text: Any) -> dict[str, Any]:
    client_id = str(uuid.uuid4())
    await tab.send({"type": "suggest", "client_id": client_id, "text": text})
    frame = await tab.receive()
    assert frame["client_id"] == client_id
    return frame


@database_sync_to_async
def offers(workspace: Any) -> list[DeflectionOffer]:
    return list(DeflectionOffer.objects.filter(workspace=workspace).order_by("pk"))


@database_sync_to_async
def conversations() -> int:
    return Conversation.objects.count()


async def test_a_first_question_gets_articles_in_the_visitors_language_and_is_recorded(
    app, widget, returns_article
):
    tab = Widget(app, widget)
    await tab.open(locale="it")

    found = await suggest(tab, "Come posso restituire un articolo?")

    assert found["type"] == "suggestions"
    assert [a["title"] for a in found["articles"]] == ["Restituire un articolo"]
    article = found["articles"][0]
    assert article["url"].startswith(f"/help/{widget.workspace.slug}/it/a/")
    assert "restituire" in article["snippet"].lower()
    [offer] = await offers(widget.workspace)
    assert found["offer_id"] == offer.pk
    assert (offer.source, offer.language, offer.article_ids) == (
        "widget",
        "it",
        [returns_article.pk],
    )
    assert offer.visitor_key
    assert offer.confirmed_at is None
    # Asking for suggestions starts no conversation.
    assert await conversations() == 0
    await tab.close()


async def test_this_solved_it_counts_as_a_confirmed_deflection_without_a_conversation(
    app, widget, returns_article
):
    tab = Widget(app, widget)
    await tab.open()
    found = await suggest(tab, "How do I return an item?")
    assert found["articles"]

    await tab.send({"type": "deflected", "offer_id": found["offer_id"]})
    assert (await tab.receive("deflected"))["offer_id"] == found["offer_id"]

    [offer] = await offers(widget.workspace)
    assert offer.confirmed_at is not None
    now = timezone.now()
    report = await database_sync_to_async(assistant_selectors.deflection_report)(
        workspace=widget.workspace, start=now - dt.timedelta(hours=1), end=now, now=now
    )
    assert (report.offers, report.confirmed) == (1, 1)
    assert await conversations() == 0
    await tab.close()


async def test_i_still_need_help_sends_the_message_as_usual_and_confirms_nothing(
    app, widget, returns_article
):
    tab = Widget(app, widget)
    await tab.open()
    found = await suggest(tab, "How do I return an item?")
    assert found["articles"]

    ack = await tab.say("How do I return an item?")

    stored = await database_sync_to_async(Message.objects.get)()
    assert ack["message"]["id"] == stored.pk
    assert stored.text == "How do I return an item?"
    [offer] = await offers(widget.workspace)
    assert offer.confirmed_at is None
    await tab.close()


async def test_without_a_matching_article_nothing_is_offered_and_the_message_goes_through(
    app, widget, returns_article
):
    tab = Widget(app, widget)
    await tab.open()

    found = await suggest(tab, "zebra xylophone quartz")

    assert (found["type"], found["offer_id"], found["articles"]) == ("suggestions", 0, [])
    assert await offers(widget.workspace) == []
    ack = await tab.say("zebra xylophone quartz")
    assert ack["message"]["text"] == "zebra xylophone quartz"
    assert await conversations() == 1
    await tab.close()


async def test_another_workspaces_articles_are_never_suggested_nor_its_offers_confirmed(
    app, widget, other_workspace, actor
):
    await database_sync_to_async(make_article)(other_workspace, actor, "returns", RETURNS)
    theirs, _results = await database_sync_to_async(assistant_services.deflection_offer)(
        workspace=other_workspace, source="widget", language="en", text="return an item"
    )
    assert theirs is not None
    tab = Widget(app, widget)
    await tab.open()

    found = await suggest(tab, "How do I return an item?")

    assert (found["offer_id"], found["articles"]) == (0, [])
    assert await offers(widget.workspace) == []
    await tab.send({"type": "deflected", "offer_id": theirs.pk})
    assert (await tab.receive("error"))["code"] == "not_found"
    [still] = await offers(other_workspace)
    assert still.confirmed_at is None
    await tab.close()


async def test_only_this_chats_own_offers_can_be_confirmed(app, widget, returns_article):
    first, second = Widget(app, widget, ip="10.0.0.2"), Widget(app, widget, ip="10.0.0.3")
    await first.open()
    await second.open()
    found = await suggest(first, "How do I return an item?")

    await second.send({"type": "deflected", "offer_id": found["offer_id"]})

    assert (await second.receive("error"))["code"] == "not_found"
    [offer] = await offers(widget.workspace)
    assert offer.confirmed_at is None
    await first.close()
    await second.close()


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ({"type": "suggest", "client_id": "c1"}, "validation_failed"),
        ({"type": "suggest", "client_id": "c1", "text": "   "}, "validation_failed"),
        ({"type": "suggest", "client_id": "c1", "text": 42}, "validation_failed"),
        ({"type": "deflected"}, "not_found"),
        ({"type": "deflected", "offer_id": "1"}, "not_found"),
        ({"type": "deflected", "offer_id": True}, "not_found"),
        ({"type": "deflected", "offer_id": 999_999}, "not_found"),
    ],
)
async def test_malformed_suggest_and_deflected_frames_get_an_error_frame(
    app, widget, returns_article, content, code
):
    tab = Widget(app, widget)
    await tab.open()

    await tab.send(content)

    error = await tab.receive("error")
    assert error["code"] == code
    assert error["client_id"] == content.get("client_id", "")
    assert await offers(widget.workspace) == []
    await tab.close()


async def test_suggestions_before_hello_are_refused(app, widget, returns_article):
    tab = Widget(app, widget)
    assert (await tab.connect())[0]
    await tab.send({"type": "suggest", "client_id": "c1", "text": "return an item"})
    assert (await tab.receive("error"))["code"] == "hello_first"
    await tab.close()


async def test_suggestions_are_rate_limited_per_chat(app, widget, returns_article):
    tab = Widget(app, widget)
    await tab.open()
    for _ in range(5):
        assert (await suggest(tab, "return an item"))["type"] == "suggestions"

    limited = await suggest(tab, "return an item")

    assert (limited["type"], limited["code"]) == ("error", "rate_limited")
    assert len(await offers(widget.workspace)) == 5
    await tab.close()
