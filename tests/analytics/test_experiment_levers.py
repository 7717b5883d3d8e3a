"""The macro wording and routing levers: random but sticky assignment, the variant's effect in
the inbox (the macro text sent, the routing choice made), results per variant, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from ascolto.analytics.experiments import results, services
from ascolto.analytics.models import Experiment, ExperimentAssignment
from ascolto.core.actors import Actor
from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.inbox import macros
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation, Macro, Message
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory
from tests.inbox.test_routing import agent as make_agent
from tests.inbox.test_routing import arrive
from tests.ui.conftest import login

SYSTEM = Actor.system("test")
SHORT = "Hi {{ customer.first_name }}, it ships today."
LONG = "Dear {{ customer.name }}, thank you for waiting: your order leaves our warehouse today."


def make_macro(workspace: Any, body: str = "Hello, it ships today.") -> Macro:
    return Macro.objects.create(workspace=workspace, name="Shipping", body=body)


def start(workspace: Any, *, lever: str, variants: list[dict[str, Any]], **kw: Any) -> Experiment:
    fields = {
        "name": f"{lever} test",
        "unit": "conversation",
        "metric": "resolved_no_reopen",
        "design": "fixed",
        "baseline": 0.5,
        "mde": 0.1,
    } | kw
    experiment = services.experiment_create(
        workspace=workspace, lever=lever, variants=variants, **fields
    )
    return services.experiment_start(experiment=experiment)


def wording(macro: Macro) -> list[dict[str, Any]]:
    return [
        {"key": "own", "weight": 50, "payload": {"macro_id": macro.pk}},
        {"key": "long", "weight": 50, "payload": {"macro_id": macro.pk, "body": LONG}},
    ]


def conversation_of(workspace: Any, name: str = "Dana Levi") -> Conversation:
    inbox = InboxFactory(workspace=workspace, routing="manual")
    customer = CustomerFactory(workspace=workspace, name=name)
    return inbox_services.message_receive(
        inbox=inbox, customer=customer, text="where?"
    ).conversation


def member(workspace: Any) -> Any:
    user = UserFactory(first_name="Sara")
    MembershipFactory(workspace=workspace, user=user, role="agent")
    user.save()
    return user


# --- macro wording ------------------------------------------------------------------------------


def test_applying_the_macro_sends_the_variant_text_and_records_the_exposure(workspace):
    macro = make_macro(workspace)
    experiment = start(workspace, lever="macro_wording", variants=wording(macro))
    user = member(workspace)
    sent: dict[str, list[str]] = {"own": [], "long": []}

    for i in range(16):
        c = conversation_of(workspace, name=f"Dana Levi{i}")
        result = macros.macro_apply(
            macro=macro, conversation=c, agent=user, actor=Actor.for_user(user)
        )
        variant = services.experiment_variant_for(experiment=experiment, unit_id=c.pk)
        sent[variant].append(result.message.text)

    assert sent["own"]
    assert sent["long"]  # 16 conversations split between both (random, fixed by the hash)
    assert all(text == "Hello, it ships today." for text in sent["own"])
    assert all(text.startswith("Dear Dana Levi") for text in sent["long"])
    assert ExperimentAssignment.objects.filter(experiment=experiment).count() == 16


def test_the_variant_is_sticky_and_the_preview_records_nothing(workspace):
    macro = make_macro(workspace)
    experiment = start(workspace, lever="macro_wording", variants=wording(macro))
    c = conversation_of(workspace)

    previews = {macros.macro_body_for(macro=macro, conversation=c) for _ in range(3)}
    assert not ExperimentAssignment.objects.filter(experiment=experiment).exists()
    applied = macros.macro_body_for(macro=macro, conversation=c, record=True)
    again = macros.macro_body_for(macro=macro, conversation=c, record=True)

    assert previews == {applied}
    assert again == applied
    assert ExperimentAssignment.objects.filter(experiment=experiment).count() == 1


def test_other_macros_and_stopped_experiments_keep_their_own_text(workspace):
    macro, other = make_macro(workspace), make_macro(workspace, body="Another text")
    experiment = start(workspace, lever="macro_wording", variants=wording(macro))
    c = conversation_of(workspace)

    assert macros.macro_body_for(macro=other, conversation=c, record=True) == "Another text"
    assert not ExperimentAssignment.objects.filter(experiment=experiment).exists()
    services.experiment_stop(experiment=experiment)
    assert macros.macro_body_for(macro=macro, conversation=c, record=True) == macro.body


def test_the_console_preview_shows_the_variant_text(client, workspace):
    macro = make_macro(workspace)
    experiment = start(
        workspace,
        lever="macro_wording",
        variants=[
            {"key": "a", "weight": 1, "payload": {"macro_id": macro.pk, "body": LONG}},
            {"key": "b", "weight": 1, "payload": {"macro_id": macro.pk, "body": LONG}},
        ],
    )
    user = member(workspace)
    c = conversation_of(workspace)
    login(client, user)

    response = client.get(reverse("inbox:macro_preview", args=[c.pk, macro.pk]))

    assert response.status_code == 200
    assert "thank you for waiting" in response.content.decode()
    assert not ExperimentAssignment.objects.filter(experiment=experiment).exists()


def test_results_read_per_variant(workspace):
    macro = make_macro(workspace)
    experiment = start(workspace, lever="macro_wording", variants=wording(macro))
    user = member(workspace)
    resolved = {"own": 0, "long": 0}
    reopened = {"own": 0, "long": 0}
    for i in range(12):
        c = conversation_of(workspace, name=f"C{i}")
        macros.macro_apply(macro=macro, conversation=c, agent=user, actor=Actor.for_user(user))
        variant = services.experiment_variant_for(experiment=experiment, unit_id=c.pk)
        reopen = 1 if variant == "own" and i % 2 else 0
        Conversation.objects.filter(pk=c.pk).update(
            resolved_at=timezone.now(), status="resolved", reopen_count=reopen
        )
        resolved[variant] += 1
        reopened[variant] += reopen

    by_key = {v.key: v for v in results.experiment_results(experiment).variants}

    for key in ("own", "long"):
        assert by_key[key].n == resolved[key]
        assert by_key[key].mean == pytest.approx(1 - reopened[key] / resolved[key])


@pytest.mark.parametrize(
    "payloads",
    [
        [{}, {}],  # no macro named
        [{"macro_id": "x"}, {"macro_id": "x"}],
        [{"macro_id": 1}, {"macro_id": 2}],  # not the same macro in every variant
        [{"macro_id": 1}, {"macro_id": 1, "body": ""}],
        [{"macro_id": 1}, {"macro_id": 1, "body": "{% debug %}"}],
        [{"macro_id": 1}, {"macro_id": 1, "body": "{{ agent.password }}"}],
    ],
)
def test_bad_macro_payloads_are_refused(workspace, payloads):
    variants = [{"key": k, "weight": 1, "payload": p} for k, p in zip("AB", payloads, strict=True)]

    with pytest.raises(ValidationFailed) as exc:
        start(workspace, lever="macro_wording", variants=variants)

    assert "variants" in exc.value.field_errors
    assert not Experiment.objects.exists()


def test_a_macro_of_another_workspace_is_refused(workspace, other_workspace):
    foreign = make_macro(other_workspace)

    with pytest.raises(ValidationFailed):
        start(workspace, lever="macro_wording", variants=wording(foreign))


def test_experiments_on_different_macros_run_together_but_not_on_the_same(workspace):
    first, second = make_macro(workspace), make_macro(workspace)
    start(workspace, lever="macro_wording", variants=wording(first))
    start(workspace, lever="macro_wording", variants=wording(second))

    with pytest.raises(Conflict):
        start(workspace, lever="macro_wording", variants=wording(first))


# --- routing ------------------------------------------------------------------------------------


def test_routing_variant_sends_conversations_to_its_team(workspace):
    vip, regular = TeamFactory(workspace=workspace), TeamFactory(workspace=workspace)
    vip_agent = make_agent(workspace, team=vip)
    regular_agent = make_agent(workspace, team=regular)
    inbox = InboxFactory(workspace=workspace, routing="round_robin", team=regular)
    experiment = start(
        workspace,
        lever="routing",
        variants=[
            {"key": "inbox", "weight": 1, "payload": {"inbox_id": inbox.pk}},
            {"key": "vip", "weight": 1, "payload": {"inbox_id": inbox.pk, "team_id": vip.pk}},
        ],
        metric="first_response_seconds",
        baseline=60,
        mde=30,
    )

    conversations = [arrive(inbox) for _ in range(12)]

    variants = {
        c.pk: services.experiment_variant_for(experiment=experiment, unit_id=c.pk)
        for c in conversations
    }
    assert set(variants.values()) == {"inbox", "vip"}
    for c in conversations:
        expected = vip_agent if variants[c.pk] == "vip" else regular_agent
        assert Conversation.objects.get(pk=c.pk).assignee == expected


def test_routing_variant_changes_the_strategy(workspace):
    anna = make_agent(workspace, capacity={"*": 5})
    bruno = make_agent(workspace, capacity={"*": 5})
    inbox = InboxFactory(workspace=workspace, routing="manual")
    busy = InboxFactory(workspace=workspace, routing="manual")
    for _ in range(3):
        c = arrive(busy, route=False)
        inbox_services.conversation_assign(conversation=c, assignee=anna, actor=SYSTEM)
    inbox.routing = "round_robin"
    inbox.save()
    # Anna was assigned longest ago: round robin picks her, least loaded picks Bruno (load 0).
    from ascolto.inbox.models import AgentProfile

    AgentProfile.objects.filter(user=anna).update(
        last_assigned_at=timezone.now().replace(year=2020)
    )
    AgentProfile.objects.filter(user=bruno).update(last_assigned_at=timezone.now())
    start(
        workspace,
        lever="routing",
        variants=[
            {
                "key": "ll",
                "weight": 1,
                "payload": {"inbox_id": inbox.pk, "strategy": "least_loaded"},
            },
            {
                "key": "ll2",
                "weight": 1,
                "payload": {"inbox_id": inbox.pk, "strategy": "least_loaded"},
            },
        ],
    )

    c = arrive(inbox)

    assert c.assignee == bruno


def test_other_inboxes_route_as_before(workspace):
    team = TeamFactory(workspace=workspace)
    make_agent(workspace, team=team)
    make_agent(workspace)
    tested = InboxFactory(workspace=workspace, routing="round_robin")
    other = InboxFactory(workspace=workspace, routing="round_robin")
    experiment = start(
        workspace,
        lever="routing",
        variants=[
            {"key": "a", "weight": 1, "payload": {"inbox_id": tested.pk, "team_id": team.pk}},
            {"key": "b", "weight": 1, "payload": {"inbox_id": tested.pk, "team_id": team.pk}},
        ],
    )

    c = arrive(other)

    assert c.assignee is not None
    assert not ExperimentAssignment.objects.filter(experiment=experiment).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"inbox_id": True},
        {"inbox_id": 1, "strategy": "random"},
        {"inbox_id": 1, "team_id": "sales"},
    ],
)
def test_bad_routing_payloads_are_refused(workspace, payload):
    variants = [{"key": k, "weight": 1, "payload": payload} for k in "AB"]

    with pytest.raises(ValidationFailed):
        start(workspace, lever="routing", variants=variants)


def test_a_team_or_inbox_of_another_workspace_is_refused(workspace, other_workspace):
    inbox = InboxFactory(workspace=workspace)
    foreign_inbox = InboxFactory(workspace=other_workspace)
    foreign_team = TeamFactory(workspace=other_workspace)

    for payload in (
        {"inbox_id": foreign_inbox.pk},
        {"inbox_id": inbox.pk, "team_id": foreign_team.pk},
    ):
        variants = [{"key": k, "weight": 1, "payload": payload} for k in "AB"]
        with pytest.raises(ValidationFailed):
            start(workspace, lever="routing", variants=variants)


def test_the_api_refuses_a_bad_lever_payload_with_a_problem(workspace, make_token):
    from tests.api.conftest import ApiClient, assert_problem

    admin = UserFactory()
    MembershipFactory(workspace=workspace, user=admin, role="admin")
    api = ApiClient(make_token(admin, workspace))
    body = {
        "name": "Routing",
        "unit": "conversation",
        "lever": "routing",
        "variants": [{"key": k, "weight": 1, "payload": {"inbox_id": 0}} for k in "AB"],
        "metric": "first_response_seconds",
        "design": "fixed",
        "baseline": 60,
        "mde": 30,
    }

    response = api.post("analytics/experiments", body)

    problem = assert_problem(response, 422)
    assert "variants" in problem["errors"]
    assert not Experiment.objects.exists()
    assert Message.objects.count() == 0
