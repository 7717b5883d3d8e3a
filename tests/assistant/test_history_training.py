from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from ascolto.assistant.models import MessageTriage
from ascolto.assistant.nlp.cli import nlp
from ascolto.assistant.selectors import labelled_history
from ascolto.core.actors import Actor
from ascolto.inbox import services as inbox
from tests.assistant.corpora import INTENT_EXAMPLES
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

pytest.importorskip("lingua")


def _history(workspace: Any) -> None:
    chat = InboxFactory(workspace=workspace)
    for text, label in INTENT_EXAMPLES:
        result = inbox.message_receive(
            inbox=chat, customer=CustomerFactory(workspace=workspace), text=text
        )
        inbox.conversation_set_tags(
            conversation=result.conversation, names=[label], actor=Actor.system()
        )


def test_the_history_gives_the_first_message_and_the_single_tag(
    workspace: Any, other_workspace: Any
) -> None:
    _history(workspace)
    two_tags = inbox.message_receive(
        inbox=InboxFactory(workspace=workspace),
        customer=CustomerFactory(workspace=workspace),
        text="refund and delivery",
    )
    inbox.conversation_set_tags(
        conversation=two_tags.conversation, names=["refund", "delivery"], actor=Actor.system()
    )

    texts, labels = labelled_history(workspace=workspace)

    assert sorted(zip(texts, labels, strict=True)) == sorted(INTENT_EXAMPLES)
    assert labelled_history(workspace=other_workspace) == ([], [])


def test_train_workspace_stores_the_model_triage_then_uses(
    workspace: Any, settings: Any, say: Any
) -> None:
    _history(workspace)

    result = CliRunner().invoke(nlp, ["train-workspace", workspace.slug, "--no-embeddings"])

    assert result.exit_code == 0, result.output
    assert f"workspace-{workspace.pk}" in result.output
    assert "24 conversations, 3 labels" in result.output
    message = say(
        InboxFactory(workspace=workspace),
        CustomerFactory(workspace=workspace),
        "Where is my parcel? The courier has not delivered it",
    ).message
    assert MessageTriage.objects.get(message=message).intent == "delivery"


def test_train_workspace_explains_what_is_missing(workspace: Any) -> None:
    unknown = CliRunner().invoke(nlp, ["train-workspace", "no-such-workspace"])
    empty = CliRunner().invoke(nlp, ["train-workspace", workspace.slug, "--no-embeddings"])

    assert unknown.exit_code == 1
    assert "No workspace 'no-such-workspace'" in unknown.output
    assert empty.exit_code == 1
    assert "0 labelled conversations" in empty.output
