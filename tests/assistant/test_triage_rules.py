from __future__ import annotations

from typing import Any

import pytest

from ascolto.assistant import services
from ascolto.assistant.models import MessageTriage
from ascolto.core.errors import ValidationFailed
from ascolto.inbox.models import Conversation
from tests.accounts.factories import TeamFactory
from tests.customers.factories import CustomerFactory

pytest.importorskip("lingua")

TEXT = "My package has not arrived yet, where is my parcel?"


def _conversation_tags(conversation: Conversation) -> list[str]:
    return sorted(conversation.tags.values_list("name", flat=True))


def test_every_inbound_message_gets_language_intent_and_sentiment(
    workspace: Any, chat_inbox: Any, customer: Any, say: Any, train_models: Any
) -> None:
    train_models(workspace.pk)

    result = say(chat_inbox, customer, "Il mio pacco non è ancora arrivato, dov'è?")

    triage = MessageTriage.objects.get(message=result.message)
    assert triage.language == "it"
    assert triage.intent == "delivery"
    assert 0.0 < (triage.intent_confidence or 0) <= 1.0
    assert triage.sentiment in {"negative", "neutral", "positive"}


def test_without_models_only_the_language_is_stored_and_no_rule_fires(
    workspace: Any, chat_inbox: Any, customer: Any, say: Any
) -> None:
    services.triage_rule_save(
        workspace=workspace, intent="delivery", min_confidence=0.0, add_tags=["shipping"]
    )

    result = say(chat_inbox, customer, TEXT)

    triage = MessageTriage.objects.get(message=result.message)
    assert (triage.language, triage.intent, triage.intent_confidence) == ("en", "", None)
    assert _conversation_tags(result.conversation) == []


def test_rules_apply_at_or_above_their_floor_and_change_nothing_below_it(
    workspace: Any, chat_inbox: Any, say: Any, train_models: Any
) -> None:
    train_models()
    team = TeamFactory(workspace=workspace)
    rule = services.triage_rule_save(
        workspace=workspace,
        intent="delivery",
        min_confidence=0.0,
        add_tags=["Shipping"],
        team_id=team.pk,
        priority=Conversation.Priority.HIGH,
    )
    applied = say(chat_inbox, CustomerFactory(workspace=workspace), TEXT)
    triage = MessageTriage.objects.get(message=applied.message)
    confidence = triage.intent_confidence
    assert triage.intent == "delivery"
    assert confidence is not None
    assert confidence < 0.99

    conversation = Conversation.objects.get(pk=applied.conversation.pk)
    assert triage.rule_id == rule.pk
    assert _conversation_tags(conversation) == ["shipping"]
    assert conversation.team_id == team.pk
    assert conversation.priority == Conversation.Priority.HIGH

    services.triage_rule_save(
        workspace=workspace,
        intent="delivery",
        min_confidence=confidence + 0.01,
        add_tags=["shipping"],
        team_id=team.pk,
        priority=Conversation.Priority.HIGH,
    )
    below = say(chat_inbox, CustomerFactory(workspace=workspace), TEXT)
    conversation = Conversation.objects.get(pk=below.conversation.pk)
    assert MessageTriage.objects.get(message=below.message).rule_id is None
    assert _conversation_tags(conversation) == []
    assert conversation.team_id is None
    assert conversation.priority == Conversation.Priority.NORMAL


def test_a_rule_of_another_workspace_never_applies(
    workspace: Any,
    other_workspace: Any,
    chat_inbox: Any,
    customer: Any,
    say: Any,
    train_models: Any,
) -> None:
    train_models()
    services.triage_rule_save(
        workspace=other_workspace, intent="delivery", min_confidence=0.0, add_tags=["x"]
    )

    result = say(chat_inbox, customer, TEXT)

    assert MessageTriage.objects.get(message=result.message).intent == "delivery"
    assert _conversation_tags(result.conversation) == []


def test_a_workspace_model_is_preferred_to_the_global_one(
    workspace: Any, chat_inbox: Any, customer: Any, say: Any, train_models: Any, settings: Any
) -> None:
    from ascolto.assistant.nlp.classifier import ClassifierConfig
    from ascolto.assistant.nlp.intent import IntentModel
    from ascolto.assistant.nlp.store import ModelStore
    from ascolto.assistant.triage_rules import clear_cache

    train_models()
    IntentModel.train(
        ["parcel late", "where is my parcel", "hello there", "good morning"],
        ["late_parcel", "late_parcel", "greeting", "greeting"],
        config=ClassifierConfig(embedding_weight=0.0, char_min_df=1),
        use_embeddings=False,
    ).save(ModelStore(settings.ASCOLTO_MODELS_DIR).path("intent", workspace_id=workspace.pk))
    clear_cache()

    result = say(chat_inbox, customer, TEXT)

    assert MessageTriage.objects.get(message=result.message).intent == "late_parcel"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"intent": " "}, "intent"),
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"priority": 9}, "priority"),
        ({"team_id": 999999}, "team_id"),
    ],
)
def test_bad_rules_are_refused_with_the_field(
    workspace: Any, fields: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {"intent": "delivery", "min_confidence": 0.5, **fields}
    with pytest.raises(ValidationFailed) as error:
        services.triage_rule_save(workspace=workspace, **arguments)
    assert field in error.value.field_errors


def test_messages_dispatched_together_are_each_triaged_once_with_their_workspaces_rules(
    workspace: Any, other_workspace: Any, train_models: Any
) -> None:
    """The outbox hands the triage handler many messages at once: each gets its own triage,
    a message triaged before keeps its triage, and a rule acts in its own workspace only."""
    from ascolto.core import outbox
    from ascolto.core.models import OutboxEvent
    from ascolto.inbox import services as inbox
    from tests.inbox.factories import InboxFactory

    train_models()
    services.triage_rule_save(
        workspace=workspace, intent="delivery", min_confidence=0.0, add_tags=["shipping"]
    )
    received = [
        inbox.message_receive(
            inbox=InboxFactory(workspace=ws, channel="webchat", routing="manual"),
            customer=CustomerFactory(workspace=ws),
            text=text,
        )
        for ws, text in (
            (workspace, TEXT),
            (workspace, "Il mio pacco non è ancora arrivato, dov'è?"),
            (other_workspace, TEXT),
            (workspace, "Where is my parcel? It has not arrived."),
        )
    ]
    earlier = MessageTriage.objects.create(
        workspace=workspace, message=received[3].message, language="xx", language_confidence=1
    )
    events = OutboxEvent.objects.filter(name="inbox.message.received").order_by("pk")
    assert len(events) == 4

    outbox.dispatch_events([event.pk for event in events])

    triages = {
        t.message_id: t
        for t in MessageTriage.objects.filter(message__in=[r.message for r in received])
    }
    assert len(triages) == 4
    assert [triages[r.message.pk].intent for r in received[:3]] == ["delivery"] * 3
    assert triages[received[1].message.pk].language == "it"
    assert triages[earlier.message_id].language == "xx"  # not triaged again
    assert _conversation_tags(received[0].conversation) == ["shipping"]
    assert _conversation_tags(received[1].conversation) == ["shipping"]
    assert _conversation_tags(received[2].conversation) == []  # the rule is another workspace's
    assert _conversation_tags(received[3].conversation) == []  # its triage was done before
    assert not OutboxEvent.objects.filter(
        name="inbox.message.received", dispatched_at__isnull=True
    ).exists()
