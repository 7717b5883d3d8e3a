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
