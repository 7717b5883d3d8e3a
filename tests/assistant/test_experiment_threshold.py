"""The assistant's confidence threshold as an experiment lever: each conversation searches with
its variant's threshold, and the results count the assistant's sessions per variant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ascolto.analytics.experiments import results, services
from ascolto.analytics.models import ExperimentAssignment
from ascolto.assistant.models import BotSession
from tests.customers.factories import CustomerFactory

pytest.importorskip("lingua")

PASSWORD = {
    "en": (
        "Reset your password",
        "To reset your password, open the login page and click Forgot password. "
        "We send you a link by email; it is valid for one hour.",
    )
}


def test_each_conversation_uses_its_variants_threshold(
    workspace: Any,
    actor: Any,
    chat_inbox: Any,
    make_article: Callable[..., Any],
    enable_assistant: Any,
    say: Any,
) -> None:
    make_article(workspace, actor, PASSWORD)
    enable_assistant(workspace)
    experiment = services.experiment_create(
        workspace=workspace,
        name="Stricter assistant",
        unit="conversation",
        lever="assistant_threshold",
        variants=[
            {"key": "A", "weight": 1, "payload": {}},
            {"key": "B", "weight": 1, "payload": {"confidence_threshold": 1.0}},
        ],
        metric="resolved_by_bot",
        design="sequential",
        baseline=0.3,
        mde=0.1,
    )
    services.experiment_start(experiment=experiment)

    conversations = [
        say(
            chat_inbox, CustomerFactory(workspace=workspace), "Please help me reset my password"
        ).conversation
        for _ in range(14)  # both variants get some: all in one has odds 1 in 8192
    ]

    variant_of = dict(ExperimentAssignment.objects.values_list("unit_id", "variant"))
    assert set(variant_of) == {c.pk for c in conversations}
    assert set(variant_of.values()) == {"A", "B"}
    for c in conversations:
        session = BotSession.objects.get(conversation=c)
        if variant_of[c.pk] == "A":  # the workspace's threshold: the article is good enough
            assert session.state == BotSession.State.ANSWERED
        else:  # nothing reaches 1.0: a hand-off for low confidence
            assert (session.state, session.handoff_reason) == ("handed_off", "low_confidence")

    by_key = {v.key: v for v in results.experiment_results(experiment).variants}
    assert by_key["A"].n + by_key["B"].n == 14
    assert by_key["B"].mean == 0.0
