"""Auto-assignment through the outbox handlers: round robin, least loaded with capacity per
channel, skills, language, teams, value tiers first and the VIP team; agents' availability."""

import pytest

from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import OutboxEvent
from ascolto.inbox import routing, services
from ascolto.inbox.models import AgentProfile, Conversation, ConversationEvent
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory
from tests.inbox.test_sla import dispatch

SYSTEM = Actor.system("test")


def agent(
    workspace,
    *,
    availability="online",
    capacity=None,
    skills=(),
    languages=(),
    role="agent",
    team=None,
):
    user = UserFactory(password=None)
    MembershipFactory(workspace=workspace, user=user, role=role)
    AgentProfile.objects.create(
        workspace=workspace,
        user=user,
        availability=availability,
        capacity=capacity if capacity is not None else {},
        skills=list(skills),
        languages=list(languages),
    )
    if team is not None:
        team.members.add(user)
    return user


def arrive(inbox, *, tier="", locale="it", text="help", route=True) -> Conversation:
    customer = CustomerFactory(workspace=inbox.workspace, value_tier=tier, locale=locale)
    conversation = services.message_receive(inbox=inbox, customer=customer, text=text).conversation
    if route:
        dispatch()
    return Conversation.objects.get(pk=conversation.pk)


def assignees(conversations) -> list:
    return [Conversation.objects.get(pk=c.pk).assignee for c in conversations]


def test_round_robin_rotates_among_online_agents_only(workspace):
    anna, bruno = agent(workspace), agent(workspace)
    agent(workspace, availability="away")
    agent(workspace, availability="offline")
    inbox = InboxFactory(workspace=workspace, routing="round_robin")

    conversations = [arrive(inbox) for _ in range(4)]

    assert assignees(conversations) == [anna, bruno, anna, bruno]
    event = ConversationEvent.objects.filter(conversation=conversations[0], kind="assigned").get()
    assert event.reason == "auto"
    assert AgentProfile.objects.get(user=bruno).last_assigned_at is not None


def test_least_loaded_counts_open_work_per_channel_against_each_capacity(workspace):
    anna = agent(workspace, capacity={"webchat": 2})
    bruno = agent(workspace, capacity={"*": 3})
    agent(workspace, capacity={"webchat": 0, "*": 9})  # takes no web chats
    inbox = InboxFactory(workspace=workspace, routing="least_loaded")
    email = InboxFactory(workspace=workspace, channel="email", routing="manual")
    services.conversation_assign(
        conversation=arrive(inbox, route=False), assignee=anna, actor=SYSTEM
    )
    services.conversation_assign(conversation=arrive(email), assignee=bruno, actor=SYSTEM)

    conversations = [arrive(inbox) for _ in range(5)]

    # Loads before each: (anna 1, bruno 0), (1, 1) tie -> assigned longest ago, (2 full, 1), (2, 2)
    # and then both are full.
    assert assignees(conversations) == [bruno, anna, bruno, bruno, None]


def test_resolving_frees_capacity_for_the_next_in_line(workspace):
    anna = agent(workspace, capacity={"*": 1})
    inbox = InboxFactory(workspace=workspace, routing="least_loaded")
    first, second = arrive(inbox), arrive(inbox)
    assert assignees([first, second]) == [anna, None]

    services.conversation_set_status(conversation=first, status="resolved", actor=SYSTEM)
    dispatch()

    assert assignees([second]) == [anna]


def test_required_skills_come_from_the_inbox_and_from_tags_that_are_skills(workspace):
    generalist = agent(workspace, skills=["returns"])
    billing = agent(workspace, skills=["Billing", "refund"])
    inbox = InboxFactory(workspace=workspace, routing="round_robin", config={"skills": ["billing"]})
    assert arrive(inbox).assignee == billing

    open_inbox = InboxFactory(workspace=workspace, routing="least_loaded")
    refund = arrive(open_inbox, route=False)
    services.conversation_set_tags(conversation=refund, names=["refund", "angry"], actor=SYSTEM)
    dispatch()
    assert assignees([refund]) == [billing]  # "angry" is nobody's skill: just a label

    assert arrive(open_inbox).assignee == generalist


def test_language_is_preferred_or_required(workspace):
    english = agent(workspace, languages=["en"])
    inbox = InboxFactory(workspace=workspace, routing="round_robin")
    assert arrive(inbox, locale="it").assignee == english  # nobody speaks Italian: anyone

    italian = agent(workspace, languages=["it-IT", "en"])
    assert arrive(inbox, locale="it").assignee == italian
    assert arrive(inbox, locale="it").assignee == italian  # round robin yields to language

    strict = InboxFactory(
        workspace=workspace, routing="round_robin", config={"language_required": True}
    )
    assert arrive(strict, locale="he").assignee is None


def test_a_team_inbox_routes_to_its_members_only(workspace):
    team = TeamFactory(workspace=workspace)
    member = agent(workspace, capacity={"*": 1}, team=team)
    agent(workspace)
    inbox = InboxFactory(workspace=workspace, team=team, routing="least_loaded")

    assert arrive(inbox).assignee == member
    assert arrive(inbox).assignee is None  # the team is full; others do not take it


def test_top_tier_customers_go_to_the_vip_team_first(workspace):
    vip, regular = TeamFactory(workspace=workspace), TeamFactory(workspace=workspace)
    concierge = agent(workspace, capacity={"*": 1}, team=vip)
    desk = agent(workspace, team=regular)
    inbox = InboxFactory(
        workspace=workspace, team=regular, routing="least_loaded", config={"vip_team_id": vip.pk}
    )

    platinum = arrive(inbox, tier="platinum")
    assert (platinum.assignee, platinum.team) == (concierge, vip)
    assert arrive(inbox, tier="gold").assignee == desk
    overflow = arrive(inbox, tier="platinum")  # the concierge is full: the regular desk helps
    assert (overflow.assignee, overflow.team) == (desk, regular)


def test_when_several_wait_higher_tiers_are_served_first(workspace):
    inbox = InboxFactory(workspace=workspace, routing="least_loaded")
    bronze = arrive(inbox, tier="bronze")
    unranked = arrive(inbox)
    platinum = arrive(inbox, tier="platinum")
    gold = arrive(inbox, tier="gold")
    anna = agent(workspace, availability="offline", capacity={"*": 2})

    routing.agent_set_availability(
        workspace=workspace, user=anna, availability="online", actor=SYSTEM
    )
    dispatch()
    assert assignees([platinum, gold, bronze, unranked]) == [anna, anna, None, None]

    services.conversation_set_status(conversation=platinum, status="resolved", actor=SYSTEM)
    dispatch()
    assert assignees([bronze, unranked]) == [anna, None]


def test_a_new_message_does_not_jump_a_higher_tier_already_waiting(workspace):
    inbox = InboxFactory(workspace=workspace, routing="least_loaded")
    gold = arrive(inbox, tier="gold")
    anna = agent(workspace, capacity={"*": 1})
    newcomer = arrive(inbox, tier="silver")
    assert assignees([gold, newcomer]) == [anna, None]


def test_manual_inboxes_and_other_workspaces_are_left_alone(workspace, other_workspace):
    agent(other_workspace)
    inbox = InboxFactory(workspace=workspace, routing="round_robin")
    assert arrive(inbox).assignee is None

    agent(workspace)
    manual = InboxFactory(workspace=workspace, routing="manual")
    assert arrive(manual).assignee is None


def test_a_reopened_conversation_stays_with_its_agent(workspace):
    anna = agent(workspace)
    agent(workspace)
    inbox = InboxFactory(workspace=workspace, routing="round_robin")
    conversation = arrive(inbox)
    assert conversation.assignee == anna
    services.conversation_set_status(conversation=conversation, status="resolved", actor=SYSTEM)
    dispatch()

    services.message_receive(inbox=inbox, customer=conversation.customer, text="again")
    dispatch()

    conversation.refresh_from_db()
    assert (conversation.assignee, conversation.reopen_count, conversation.transfer_count) == (
        anna,
        1,
        0,
    )


def test_redelivered_events_do_not_reassign(workspace):
    agent(workspace)
    agent(workspace)
    inbox = InboxFactory(workspace=workspace, routing="round_robin")
    conversation = arrive(inbox)
    first = conversation.assignee

    for event in OutboxEvent.objects.all():
        event.deliveries.all().delete()
    OutboxEvent.objects.update(dispatched_at=None)
    dispatch()

    conversation.refresh_from_db()
    assert (conversation.assignee, conversation.transfer_count) == (first, 0)


def test_route_conversation_assigns_one_out_of_turn(workspace):
    inbox = InboxFactory(workspace=workspace, routing="least_loaded")
    gold = arrive(inbox, tier="gold")
    bronze = arrive(inbox, tier="bronze")
    anna = agent(workspace, capacity={"*": 1})

    assert routing.route_conversation(conversation=bronze) == anna
    assert routing.route_conversation(conversation=gold) is None  # anna is full
    assert assignees([gold, bronze]) == [None, anna]


def test_analysts_and_inactive_users_are_never_chosen(workspace):
    analyst = agent(workspace, role="analyst")
    gone = agent(workspace)
    gone.is_active = False
    gone.save()
    inbox = InboxFactory(workspace=workspace, routing="round_robin")
    assert arrive(inbox).assignee is None
    assert not Conversation.objects.filter(assignee__in=[analyst, gone]).exists()


def test_availability_changes_are_validated_and_announced(workspace, other_workspace):
    user = UserFactory(password=None)
    MembershipFactory(workspace=workspace, user=user)

    profile = routing.agent_set_availability(
        workspace=workspace, user=user, availability="away", actor=SYSTEM
    )
    assert profile.availability == "away"
    routing.agent_set_availability(
        workspace=workspace, user=user, availability="away", actor=SYSTEM
    )
    events = list(
        OutboxEvent.objects.filter(name="inbox.agent.availability").values_list(
            "payload", flat=True
        )
    )
    assert events == [{"user_id": user.pk, "from": "offline", "to": "away", "actor_id": None}]

    with pytest.raises(ValidationFailed):
        routing.agent_set_availability(
            workspace=workspace, user=user, availability="busy", actor=SYSTEM
        )
    with pytest.raises(ValidationFailed):
        routing.agent_set_availability(
            workspace=other_workspace, user=user, availability="online", actor=SYSTEM
        )
    assert not AgentProfile.objects.filter(workspace=other_workspace).exists()


def test_the_catch_up_job_routes_what_events_missed(workspace):
    from ascolto.inbox import tasks

    inbox = InboxFactory(workspace=workspace, routing="least_loaded")
    waiting = arrive(inbox)
    anna = agent(workspace)  # came online without the service (an import, say)

    assert routing.workspaces_with_waiting() == [workspace.pk]
    assert tasks.route_waiting.call_local() == 1
    assert assignees([waiting]) == [anna]


def test_transfers_are_counted_and_a_bouncing_conversation_alerts_supervisors(
    workspace, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from ascolto.core import realtime

    settings.ASCOLTO_TRANSFER_ALERT_AFTER = 2
    pushed: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        realtime,
        "_send",
        lambda group, message: pushed.append((message["event"], message["payload"])),
    )
    anna = agent(workspace)
    bruno = agent(workspace)
    inbox = InboxFactory(workspace=workspace, routing="round_robin")
    conversation = arrive(inbox)
    assert conversation.assignee == anna

    with django_capture_on_commit_callbacks(execute=True):
        for target in (bruno, anna, bruno):
            services.conversation_assign(
                conversation=conversation, assignee=target, actor=SYSTEM, reason="not mine"
            )

    conversation.refresh_from_db()
    assert conversation.transfer_count == 3
    bounced = [payload for event, payload in pushed if event == "inbox.conversation.bounced"]
    assert bounced == [{"conversation_id": conversation.pk, "transfer_count": 3}]


def _route_pass(workspace) -> tuple[int, int]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assigned = routing.route_waiting(workspace_id=workspace.pk)
    return assigned, len(queries)


def _waiting_and_routed(workspace, waiting: int) -> tuple[list, list, int]:
    agents = [agent(workspace) for _ in range(3)]
    inbox = InboxFactory(workspace=workspace, routing="round_robin")
    conversations = [arrive(inbox, route=False) for _ in range(waiting)]
    assigned, queries = _route_pass(workspace)
    assert assigned == waiting
    assert assignees(conversations) == [agents[i % 3] for i in range(waiting)]
    return agents, conversations, queries


def test_a_pass_writes_its_assignments_together_with_their_history_and_events(
    workspace, other_workspace, monkeypatch, django_capture_on_commit_callbacks
):
    from ascolto.core import realtime

    pushed: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        realtime,
        "_send",
        lambda group, message: pushed.append((message["event"], message["payload"])),
    )
    _, _, few = _waiting_and_routed(other_workspace, 3)
    OutboxEvent.objects.all().delete()
    pushed.clear()

    with django_capture_on_commit_callbacks(execute=True):
        agents, conversations, many = _waiting_and_routed(workspace, 15)

    # The same statements for 15 conversations as for 3 (with three agents chosen in both).
    assert many == few
    owners = assignees(conversations)
    history = ConversationEvent.objects.filter(workspace=workspace, kind="assigned", reason="auto")
    assert sorted(history.values_list("conversation_id", flat=True)) == sorted(
        c.pk for c in conversations
    )
    events = OutboxEvent.objects.filter(name="inbox.conversation.assigned")
    assert sorted((e.payload["conversation_id"], e.payload["to"]) for e in events) == sorted(
        (c.pk, owner.pk) for c, owner in zip(conversations, owners, strict=True)
    )
    updates = {
        p["conversation"]["id"]: p["conversation"]["assignee_id"]
        for event, p in pushed
        if event == "inbox.conversation.updated"
    }
    assert updates == {c.pk: owner.pk for c, owner in zip(conversations, owners, strict=True)}
    for user in agents:
        assert AgentProfile.objects.get(user=user).last_assigned_at is not None
