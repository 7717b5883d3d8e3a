from __future__ import annotations

import json
from typing import Any

from django.utils import timezone

from ascolto.assistant.models import BotSession, DeflectionOffer, TriageRule
from tests.api.conftest import assert_problem
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory


def _handed_off(workspace: Any, reason: str) -> None:
    from ascolto.inbox import services as inbox

    result = inbox.message_receive(
        inbox=InboxFactory(workspace=workspace),
        customer=CustomerFactory(workspace=workspace),
        text="hello",
    )
    BotSession.objects.create(
        workspace=workspace,
        conversation=result.conversation,
        state=BotSession.State.HANDED_OFF,
        handoff_reason=reason,
    )


def test_the_metrics_endpoint_reports_the_callers_workspace_only(
    api: Any, other_api: Any, workspace: Any, other_workspace: Any
) -> None:
    _handed_off(workspace, "asked_for_person")
    _handed_off(workspace, "low_confidence")
    _handed_off(other_workspace, "sensitive_topic")
    DeflectionOffer.objects.create(workspace=workspace, source="widget", language="en")
    DeflectionOffer.objects.create(
        workspace=workspace, source="email", language="en", confirmed_at=timezone.now()
    )

    response = api.get("/api/v1/assistant/metrics")

    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    assert body["automation"] == {
        "conversations": 2,
        "automated": 0,
        "automation_rate": 0.0,
        "confirmed": 0,
        "handed_off": 2,
        "handoffs_by_reason": {"asked_for_person": 1, "low_confidence": 1},
    }
    assert body["deflection"]["offers"] == 2
    assert body["deflection"]["pending"] == 1
    assert body["deflection"]["confirmed"] == 1
    by_source = body["deflection"]["by_source"]
    assert (by_source["widget"]["offers"], by_source["widget"]["pending"]) == (1, 1)
    assert (by_source["email"]["offers"], by_source["email"]["confirmed"]) == (1, 1)
    other = json.loads(other_api.get("/api/v1/assistant/metrics").content)
    assert other["automation"]["handoffs_by_reason"] == {"sensitive_topic": 1}
    assert other["deflection"]["offers"] == 0


def test_a_period_that_ends_before_it_starts_is_refused(api: Any) -> None:
    response = api.get(
        "/api/v1/assistant/metrics", start="2026-11-10T00:00:00Z", end="2026-11-01T00:00:00Z"
    )
    assert_problem(response, 422, "validation_failed")


def test_only_admins_write_triage_rules(member: Any, workspace: Any) -> None:
    rule = {"intent": "delivery", "min_confidence": 0.8, "add_tags": ["shipping"], "priority": 2}

    assert_problem(member("agent").put("/api/v1/assistant/triage-rules", rule), 403)
    admin = member("admin")
    response = admin.put("/api/v1/assistant/triage-rules", rule)

    assert response.status_code == 200, response.content
    saved = TriageRule.objects.get(workspace=workspace)
    assert (saved.intent, saved.min_confidence, saved.add_tags, saved.priority) == (
        "delivery",
        0.8,
        ["shipping"],
        2,
    )
    listed = json.loads(admin.get("/api/v1/assistant/triage-rules").content)
    assert [r["intent"] for r in listed] == ["delivery"]
    bad = admin.put("/api/v1/assistant/triage-rules", {**rule, "min_confidence": 2})
    assert_problem(bad, 422, "validation_failed")
