from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from ascolto.assistant import selectors, services
from ascolto.assistant.models import BotSession, DeflectionOffer
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.inbox.models import Conversation
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

pytest.importorskip("lingua")

RETURNS = (
    "Return an item",
    "You can return an item within 30 days: open your orders, choose the item and click Return.",
)
RETURNS_IT = (
    "Restituire un articolo",
    "Puoi restituire un articolo entro 30 giorni: apri i tuoi ordini e fai clic su Restituisci.",
)


@pytest.fixture
def returns_article(workspace: Any, actor: Any, make_article: Callable[..., Any]) -> Any:
    return make_article(workspace, actor, {"en": RETURNS, "it": RETURNS_IT})


def test_automation_confirmed_resolutions_and_hand_offs_by_reason(
    workspace: Any, returns_article: Any, enable_assistant: Any, say: Any
) -> None:
    enable_assistant(workspace)
    inbox = InboxFactory(workspace=workspace, channel="webchat")

    def customer() -> Any:
        return CustomerFactory(workspace=workspace)

    # 1: answered, confirmed -> automated and confirmed.
    first = customer()
    say(inbox, first, "Please tell me how to return an item within 30 days")
    say(inbox, first, "yes")
    # 2: answered, never confirmed, later resolved by the auto-close -> automated only.
    second = customer()
    quiet = say(inbox, second, "Please tell me how to return an item within 30 days")
    Conversation.objects.filter(pk=quiet.conversation.pk).update(status="resolved")
    # 3: asked for a person; 4 and 5: nothing found.
    say(inbox, customer(), "I want to speak to a human")
    say(inbox, customer(), "Do you sell gift cards for the garden centre?")
    say(inbox, customer(), "Is the shop in Turin open on Sunday morning for pickups?")
    # 6: answered, still waiting -> neither.
    say(inbox, customer(), "Please tell me how to return an item within 30 days")

    now = timezone.now()
    metrics = selectors.assistant_metrics(
        workspace=workspace, start=now - dt.timedelta(days=1), end=now + dt.timedelta(minutes=1)
    )

    assert metrics.conversations == 6
    assert metrics.automated == 2
    assert metrics.automation_rate == pytest.approx(2 / 6)
    assert metrics.confirmed == 1
    assert metrics.handed_off == 3
    assert metrics.handoffs_by_reason == {"asked_for_person": 1, "low_confidence": 2}
    assert BotSession.objects.filter(workspace=workspace).count() == 6

    later = selectors.assistant_metrics(
        workspace=workspace, start=now + dt.timedelta(minutes=1), end=now + dt.timedelta(days=1)
    )
    assert (later.conversations, later.automation_rate) == (0, None)


def _offer(workspace: Any, customer: Any, at: dt.datetime, **fields: Any) -> DeflectionOffer:
    offer = DeflectionOffer.objects.create(
        workspace=workspace, source="widget", customer=customer, language="en", **fields
    )
    DeflectionOffer.objects.filter(pk=offer.pk).update(created_at=at)
    return offer


def _conversation_started(workspace: Any, customer: Any, at: dt.datetime) -> None:
    from ascolto.inbox import services as inbox

    result = inbox.message_receive(
        inbox=InboxFactory(workspace=workspace), customer=customer, text="hello", occurred_at=at
    )
    Conversation.objects.filter(pk=result.conversation.pk).update(created_at=at)


def test_deflection_is_counted_confirmed_and_assumed_by_hand(
    workspace: Any, other_workspace: Any
) -> None:
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    t0 = now - dt.timedelta(days=3)
    a, b, c, d, e = (CustomerFactory(workspace=workspace) for _ in range(5))
    # a: wrote 2 hours after the offer -> not deflected.
    _offer(workspace, a, t0)
    _conversation_started(workspace, a, t0 + dt.timedelta(hours=2))
    # b: wrote 25 hours after -> assumed deflected.
    _offer(workspace, b, t0)
    _conversation_started(workspace, b, t0 + dt.timedelta(hours=25))
    # c: clicked "this solved it" (and wrote anyway later) -> confirmed, counted once.
    _offer(workspace, c, t0, confirmed_at=t0 + dt.timedelta(minutes=1))
    _conversation_started(workspace, c, t0 + dt.timedelta(hours=1))
    # d: shown 1 hour ago -> pending; e: a conversation started before the offer -> assumed.
    _offer(workspace, d, now - dt.timedelta(hours=1))
    _conversation_started(workspace, e, t0 - dt.timedelta(hours=1))
    _offer(workspace, e, t0)
    # anonymous visitor, 3 days ago, never confirmed -> assumed.
    _offer(workspace, None, t0, visitor_key="v-1")
    # another workspace's offer is not counted.
    _offer(other_workspace, CustomerFactory(workspace=other_workspace), t0)

    report = selectors.deflection_report(
        workspace=workspace, start=t0 - dt.timedelta(days=1), end=now, now=now
    )

    assert report.offers == 6
    assert report.confirmed == 1
    assert report.assumed == 3
    assert report.pending == 1
    assert report.followed_by_conversation == 1


def test_pre_chat_suggestions_are_recorded_and_can_be_confirmed(
    workspace: Any, other_workspace: Any, customer: Any, returns_article: Any
) -> None:
    offer, results = services.deflection_offer(
        workspace=workspace,
        source="widget",
        language="en",
        text="how do I return an item",
        customer=customer,
    )

    assert offer is not None
    assert [r.article_id for r in results] == [returns_article.pk]
    assert offer.article_ids == [returns_article.pk]
    with pytest.raises(NotFound):
        services.deflection_confirm(workspace=other_workspace, offer_id=offer.pk)
    confirmed = services.deflection_confirm(workspace=workspace, offer_id=offer.pk)
    assert confirmed.confirmed_at is not None
    first = confirmed.confirmed_at
    assert services.deflection_confirm(workspace=workspace, offer_id=offer.pk).confirmed_at == first

    nothing, none = services.deflection_offer(
        workspace=workspace, source="widget", language="en", text="zebra xylophone quartz"
    )
    assert (nothing, none) == (None, [])
    with pytest.raises(ValidationFailed):
        services.deflection_offer(workspace=workspace, source="fax", language="en", text="x")


def test_the_email_acknowledgement_lists_matching_articles_in_the_language(
    workspace: Any, customer: Any, returns_article: Any
) -> None:
    body = services.email_acknowledgement(
        workspace=workspace,
        customer=customer,
        subject="Reso",
        text="Come posso restituire un articolo?",
        language="it",
    )

    assert "Restituire un articolo: http://127.0.0.1:8000/help/" in body
    assert f"/help/{workspace.slug}/it/a/" in body
    assert "Abbiamo ricevuto il tuo messaggio" in body
    offer = DeflectionOffer.objects.get(workspace=workspace)
    assert (offer.source, offer.customer_id, offer.language) == ("email", customer.pk, "it")

    plain = services.email_acknowledgement(
        workspace=workspace, customer=customer, subject="", text="zebra quartz", language="en"
    )
    assert plain == "We received your message and will answer soon."
