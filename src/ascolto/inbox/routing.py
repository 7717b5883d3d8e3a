"""Auto-assignment: which available agent takes a waiting conversation, and agents' availability.

Who is eligible for a conversation:
- an agent profile in the workspace whose availability is online, whose user is an active
  member (not an analyst) and, when the conversation routes to a team, a member of that team;
- with room on the conversation's channel: `capacity[channel]`, else `capacity["*"]`, counted
  against the agent's open, pending and snoozed conversations of that channel (a profile
  without either key has no limit; 0 means "does not take this channel");
- with every required skill: the inbox's `config["skills"]`, plus the conversation's tags that
  some agent of the workspace lists as a skill (other tags are just labels);
- speaking the conversation's language (primary subtag: "it-IT" matches "it"): preferred,
  or required when the inbox's `config["language_required"]` is true.

Among the eligible, round robin takes the one assigned longest ago (`last_assigned_at`);
least loaded takes the fewest conversations on that channel, ties by round robin.

Order and teams: when several conversations wait, higher value tiers go first (platinum, gold,
silver, bronze, unranked), then higher priority, then the longest waiting. Customers of the
inbox's `config["vip_tiers"]` (default platinum) go to `config["vip_team_id"]` first, and to
the regular team only when nobody there can take them.

Experiments: a running `routing` experiment on an inbox (analytics.experiments) gives each of
its conversations a variant at the moment routing takes it up (recording the exposure); the
variant's `strategy` replaces the inbox's, and its `team_id`, when given, is the only team the
conversation is offered to.

Locks: a routing pass locks the workspace's online agent profiles (SELECT ... FOR UPDATE,
ordered by id) *before* any conversation, and then takes waiting conversations with SKIP
LOCKED, so it never waits on a conversation while holding the profiles. Two passes at once
queue on the profiles, and the second sees the loads the first wrote: capacity holds.
Conversations skipped because another transaction held them are picked up by the next pass
(every minute, see tasks.py).

Writes: a pass first chooses an agent for each conversation it can serve (the candidates'
loads counted as it goes), then writes them all at once (`RoutingPass.commit`, through
`services.conversations_assign_locked`): its statements grow with the agents it chose, not
with the conversations.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, F, IntegerField, QuerySet, Value, When
from django.utils import timezone

from ascolto.accounts.models import Membership, Role, Team, User
from ascolto.analytics.experiments.services import (
    experiment_scope,
    running_experiments,
    variant_payload,
)
from ascolto.analytics.models import Experiment
from ascolto.core import outbox, realtime
from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.models import ValueTier
from ascolto.inbox import services
from ascolto.inbox.models import AgentProfile, AvailabilitySpan, Conversation, Inbox

Status = Conversation.Status
LOADED = (Status.OPEN, Status.PENDING, Status.SNOOZED)
TIER_ORDER = (ValueTier.PLATINUM, ValueTier.GOLD, ValueTier.SILVER, ValueTier.BRONZE)
DEFAULT_VIP_TIERS = (ValueTier.PLATINUM,)
AUTO_REASON = "auto"
ROUTING_LEVER = "routing"
_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)

AVAILABILITY_EVENT = realtime.define_event(
    "inbox.agent.availability", user_id=int, availability=str
)


# --- Availability -----------------------------------------------------------------------------


def agent_set_availability(
    *, workspace: Workspace, user: User, availability: str, actor: Actor
) -> AgentProfile:
    """Set an agent's availability (online, away, offline), creating the profile if needed.

    Going online lets routing hand the agent waiting conversations (an outbox event triggers
    a routing pass); away and offline agents keep what they have but get nothing new.
    The change is recorded as availability spans in the same transaction (the current span
    closes; a new one opens unless the agent goes offline): occupancy is read from them.
    Availability is what the agent set: a closed console tab does not make them offline.
    Raises ValidationFailed for an unknown availability or a user outside the workspace.
    """
    if availability not in AgentProfile.Availability.values:
        raise ValidationFailed(
            "Unknown availability.",
            field_errors={"availability": [", ".join(AgentProfile.Availability.values)]},
        )
    if not Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationFailed(
            "The user is not a member of this workspace.",
            field_errors={"user": ["Not a member of this workspace."]},
        )
    profile, _ = AgentProfile.objects.get_or_create(workspace=workspace, user=user)
    profile = AgentProfile.objects.select_for_update().get(pk=profile.pk)
    previous = profile.availability
    if previous == availability:
        return profile
    profile.availability = availability
    profile.save(update_fields=["availability", "updated_at"])
    _record_span(workspace=workspace, user=user, availability=availability)
    outbox.emit(
        workspace=workspace,
        name="inbox.agent.availability",
        payload={
            "user_id": user.pk,
            "from": previous,
            "to": availability,
            "actor_id": actor.user_id,
        },
    )
    realtime.publish_on_commit(
        workspace_id=workspace.pk,
        event=AVAILABILITY_EVENT,
        payload={"user_id": user.pk, "availability": availability},
    )
    return profile


def _record_span(*, workspace: Workspace, user: User, availability: str) -> None:
    """Close the agent's open span and open one for the new availability (none for offline).
    The caller holds the profile's row lock, so two changes of one agent never interleave."""
    moment = timezone.now()
    AvailabilitySpan.objects.filter(workspace=workspace, agent=user, ended_at__isnull=True).update(
        ended_at=moment, updated_at=moment
    )
    if availability != AgentProfile.Availability.OFFLINE:
        AvailabilitySpan.objects.create(
            workspace=workspace, agent=user, status=availability, started_at=moment
        )


# --- Choosing ---------------------------------------------------------------------------------


@dataclass
class Candidate:
    """An online agent as routing sees it during one pass (loads updated as it assigns)."""

    profile: AgentProfile
    team_ids: frozenset[int]
    skills: frozenset[str]
    languages: frozenset[str]
    load: dict[str, int] = field(default_factory=dict)

    @property
    def user_id(self) -> int:
        return self.profile.user_id

    def capacity(self, channel: str) -> int | None:
        raw = self.profile.capacity if isinstance(self.profile.capacity, dict) else {}
        value = raw.get(channel, raw.get("*"))
        if value is None:
            return None
        try:
            return max(0, int(value))
        except (TypeError, ValueError):
            return 0

    def has_room(self, channel: str) -> bool:
        limit = self.capacity(channel)
        return limit is None or self.load.get(channel, 0) < limit


def _norm_language(code: str) -> str:
    return code.strip().lower().replace("_", "-").split("-")[0]


def _words(values: object) -> frozenset[str]:
    if not isinstance(values, list | tuple):
        return frozenset()
    return frozenset(str(v).strip().lower() for v in values if str(v).strip())


def choose(
    candidates: Iterable[Candidate],
    *,
    channel: str,
    team_id: int | None,
    language: str,
    skills: frozenset[str],
    strategy: str,
    language_required: bool = False,
) -> Candidate | None:
    """The agent who takes a conversation, or None. Pure: the rules in the module docstring."""
    eligible = [
        c
        for c in candidates
        if (team_id is None or team_id in c.team_ids) and skills <= c.skills and c.has_room(channel)
    ]
    lang = _norm_language(language) if language else ""
    if lang:
        speakers = [c for c in eligible if lang in c.languages]
        eligible = speakers if speakers or language_required else eligible
    if not eligible:
        return None

    def key(c: Candidate) -> tuple[int, dt.datetime, int]:
        load = c.load.get(channel, 0) if strategy == Inbox.Routing.LEAST_LOADED else 0
        return (load, c.profile.last_assigned_at or _EPOCH, c.profile.pk)

    return min(eligible, key=key)


# --- Passes -----------------------------------------------------------------------------------


def waiting_queue(*, workspace_id: int, inbox: Inbox | None = None) -> QuerySet[Conversation]:
    """Unassigned open conversations of routed inboxes, in the order routing serves them."""
    tier_rank = Case(
        *(
            When(customer__value_tier=tier, then=Value(rank))
            for rank, tier in enumerate(TIER_ORDER)
        ),
        default=Value(len(TIER_ORDER)),
        output_field=IntegerField(),
    )
    qs = Conversation.objects.filter(
        workspace_id=workspace_id,
        status=Status.OPEN,
        assignee__isnull=True,
        merged_into__isnull=True,
        inbox__is_active=True,
    ).exclude(inbox__routing=Inbox.Routing.MANUAL)
    if inbox is not None:
        qs = qs.filter(inbox=inbox)
    return qs.annotate(tier_rank=tier_rank).order_by(
        "tier_rank", "-priority", F("waiting_since").asc(nulls_last=True), "created_at", "id"
    )


def _candidates(workspace_id: int) -> list[Candidate]:
    """Lock and load the workspace's online agents with their current loads."""
    profiles = list(
        AgentProfile.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(workspace_id=workspace_id, availability=AgentProfile.Availability.ONLINE)
        .order_by("pk")
    )
    if not profiles:
        return []
    user_ids = [p.user_id for p in profiles]
    allowed = set(
        Membership.objects.filter(
            workspace_id=workspace_id, user_id__in=user_ids, user__is_active=True
        )
        .exclude(role=Role.ANALYST)
        .values_list("user_id", flat=True)
    )
    teams: dict[int, set[int]] = defaultdict(set)
    for user_id, team_id in Team.members.through.objects.filter(
        user_id__in=allowed, team__workspace_id=workspace_id
    ).values_list("user_id", "team_id"):
        teams[user_id].add(team_id)
    loads: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        Conversation.objects.filter(
            workspace_id=workspace_id, assignee_id__in=allowed, status__in=LOADED
        )
        .values("assignee_id", "channel")
        .annotate(n=Count("id"))
    ):
        loads[row["assignee_id"]][row["channel"]] = row["n"]
    return [
        Candidate(
            profile=p,
            team_ids=frozenset(teams[p.user_id]),
            skills=_words(p.skills),
            languages=frozenset(_norm_language(x) for x in _words(p.languages)),
            load=loads[p.user_id],
        )
        for p in profiles
        if p.user_id in allowed
    ]


def _config(inbox: Inbox) -> dict[str, Any]:
    return inbox.config if isinstance(inbox.config, dict) else {}


def _required_skills(conversation: Conversation, known_skills: frozenset[str]) -> frozenset[str]:
    configured = _words(_config(conversation.inbox).get("skills"))
    tags = frozenset(t.name.lower() for t in conversation.tags.all())
    return configured | (tags & known_skills)


def _team_pools(conversation: Conversation) -> list[int | None]:
    """Teams to try in order; None means any agent of the workspace."""
    inbox = conversation.inbox
    config = _config(inbox)
    base = conversation.team_id or inbox.team_id
    try:
        vip_team: int | None = int(config["vip_team_id"])
    except (KeyError, TypeError, ValueError):
        vip_team = None
    vip_tiers = _words(config.get("vip_tiers")) or frozenset(DEFAULT_VIP_TIERS)
    if vip_team is not None and conversation.customer.value_tier in vip_tiers:
        regular = inbox.team_id if conversation.team_id == vip_team else base
        return [vip_team] if regular == vip_team else [vip_team, regular]
    return [base]


@dataclass
class RoutingPass:
    """The state of one pass: locked candidates and the skills known in the workspace."""

    workspace_id: int
    candidates: list[Candidate]
    known_skills: frozenset[str]
    valid_teams: frozenset[int]
    chosen: list[tuple[Conversation, User, int | None]] = field(default_factory=list)
    touched: dict[int, AgentProfile] = field(default_factory=dict)  # chosen agents, by profile id
    experiments: dict[int, Experiment] = field(default_factory=dict)  # by inbox id

    @classmethod
    def start(cls, workspace_id: int) -> RoutingPass:
        candidates = _candidates(workspace_id)
        known: frozenset[str] = frozenset()
        for row in AgentProfile.objects.filter(workspace_id=workspace_id).values_list(
            "skills", flat=True
        ):
            known |= _words(row)
        teams = frozenset(
            Team.objects.filter(workspace_id=workspace_id).values_list("pk", flat=True)
        )
        experiments: dict[int, Experiment] = {}
        for experiment in running_experiments(workspace_id=workspace_id, lever=ROUTING_LEVER):
            experiments.setdefault(experiment_scope(experiment), experiment)
        return cls(workspace_id, candidates, known, teams, experiments=experiments)

    def _settings(self, conversation: Conversation) -> tuple[str, list[int | None]]:
        """The strategy and the team pools for the conversation: its inbox's, or its
        variant's when a routing experiment runs on the inbox (exposure recorded here)."""
        strategy, pools = conversation.inbox.routing, _team_pools(conversation)
        experiment = self.experiments.get(conversation.inbox_id)
        if experiment is None:
            return strategy, pools
        payload = variant_payload(
            experiment=experiment,
            conversation_id=conversation.pk,
            customer_id=conversation.customer_id,
        )
        if payload is None:
            return strategy, pools
        if payload.get("strategy") in (Inbox.Routing.ROUND_ROBIN, Inbox.Routing.LEAST_LOADED):
            strategy = str(payload["strategy"])
        if isinstance(payload.get("team_id"), int):
            pools = [int(payload["team_id"])]
        return strategy, pools

    def route(self, conversation: Conversation) -> User | None:
        """Choose an agent for one (locked, unassigned) conversation, if one can take it. The
        choice counts against the agent's room at once; `commit` writes the pass's choices."""
        inbox = conversation.inbox
        config = _config(inbox)
        skills = _required_skills(conversation, self.known_skills)
        strategy, pools = self._settings(conversation)
        for team_id in pools:
            if team_id is not None and team_id not in self.valid_teams:
                continue
            chosen = choose(
                self.candidates,
                channel=conversation.channel,
                team_id=team_id,
                language=conversation.language,
                skills=skills,
                strategy=strategy,
                language_required=bool(config.get("language_required")),
            )
            if chosen is None:
                continue
            team = team_id if team_id is not None else conversation.team_id
            self.chosen.append((conversation, chosen.profile.user, team))
            chosen.load[conversation.channel] = chosen.load.get(conversation.channel, 0) + 1
            chosen.profile.last_assigned_at = timezone.now()
            self.touched[chosen.profile.pk] = chosen.profile
            return chosen.profile.user
        return None

    def commit(self, actor: Actor) -> int:
        """Write the pass's assignments (as `conversation_assign` would, in a few statements)
        and the chosen agents' `last_assigned_at`. Returns how many were assigned."""
        if self.chosen:
            services.conversations_assign_locked(
                assignments=self.chosen, actor=actor, reason=AUTO_REASON
            )
            profiles = list(self.touched.values())
            now = timezone.now()
            for profile in profiles:
                profile.updated_at = now
            AgentProfile.objects.bulk_update(profiles, ["last_assigned_at", "updated_at"])
        assigned = len(self.chosen)
        self.chosen, self.touched = [], {}
        return assigned

    def has_room(self, channels: Iterable[str]) -> bool:
        wanted = set(channels)
        return any(c.has_room(channel) for c in self.candidates for channel in wanted)


def _lock_waiting(ids: Sequence[int]) -> list[Conversation]:
    locked = {
        c.pk: c
        for c in Conversation.objects.select_for_update(
            skip_locked=settings.IS_POSTGRES, of=("self",)
        )
        .filter(pk__in=ids, assignee__isnull=True, status=Status.OPEN)
        .select_related("inbox", "customer")
        .prefetch_related("tags")
    }
    return [locked[i] for i in ids if i in locked]


def route_waiting(
    *,
    workspace_id: int,
    inbox: Inbox | None = None,
    limit: int = 200,
    actor: Actor | None = None,
) -> int:
    """Assign waiting conversations of a workspace (or one inbox) in queue order until no
    agent can take more. Returns how many were assigned. Call inside a transaction."""
    routing_pass = RoutingPass.start(workspace_id)
    if not routing_pass.candidates:
        return 0
    queue = list(
        waiting_queue(workspace_id=workspace_id, inbox=inbox).values_list("id", "channel")[:limit]
    )
    # A full house is the common case under load: answer it without locking the queue.
    if not routing_pass.has_room(channel for _, channel in queue):
        return 0
    actor = actor or Actor.system("routing")
    waiting = _lock_waiting([conversation_id for conversation_id, _ in queue])
    for index, conversation in enumerate(waiting):
        if not routing_pass.has_room(c.channel for c in waiting[index:]):
            break
        routing_pass.route(conversation)
    return routing_pass.commit(actor)


def route_conversation(*, conversation: Conversation, actor: Actor | None = None) -> User | None:
    """Assign this one conversation if it waits and an agent can take it, regardless of its
    place in the queue (a supervisor's "route now"). Call inside a transaction."""
    if conversation.inbox.routing == Inbox.Routing.MANUAL:
        return None
    routing_pass = RoutingPass.start(conversation.workspace_id)
    locked = _lock_waiting([conversation.pk])
    if not locked or not routing_pass.candidates:
        return None
    user = routing_pass.route(locked[0])
    routing_pass.commit(actor or Actor.system("routing"))
    return user


def workspaces_with_waiting() -> list[int]:
    """Workspaces that have both a waiting conversation and an online agent."""
    online = AgentProfile.objects.filter(availability=AgentProfile.Availability.ONLINE).values(
        "workspace_id"
    )
    return sorted(
        set(
            Conversation.objects.filter(
                status=Status.OPEN,
                assignee__isnull=True,
                merged_into__isnull=True,
                workspace_id__in=online,
            )
            .exclude(inbox__routing=Inbox.Routing.MANUAL)
            .values_list("workspace_id", flat=True)
            .distinct()
        )
    )
