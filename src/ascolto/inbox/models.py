"""Service desk: inboxes, conversations, messages, attachments, and the events metrics read."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual, LessThan
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from ascolto.accounts.models import Team
from ascolto.core.models import WorkspaceScopedModel, workspace_key
from ascolto.customers.models import Customer


class Channel(models.TextChoices):
    WEBCHAT = "webchat", _("Web chat")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MESSENGER = "messenger", _("Messenger")
    INSTAGRAM = "instagram", _("Instagram")
    VOICE = "voice", _("Phone")
    API = "api", _("API")


class Inbox(WorkspaceScopedModel):
    """Where conversations of one channel arrive, with its routing and reopen policy."""

    class Routing(models.TextChoices):
        MANUAL = "manual", _("Manual")
        ROUND_ROBIN = "round_robin", _("Round robin")
        LEAST_LOADED = "least_loaded", _("Least loaded")

    name = models.CharField(_("name"), max_length=120)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="inboxes"
    )
    routing = models.CharField(
        _("routing"), max_length=16, choices=Routing.choices, default=Routing.LEAST_LOADED
    )
    reopen_window_hours = models.PositiveIntegerField(_("reopen window (hours)"), default=72)
    is_active = models.BooleanField(_("active"), default=True)
    config = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("inbox")
        verbose_name_plural = _("inboxes")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(WorkspaceScopedModel):
    name = models.CharField(_("name"), max_length=60)
    color = models.CharField(_("colour"), max_length=7, default="#6b7280")

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="tag_unique")]

    def __str__(self) -> str:
        return self.name


# A conversation starts with the customer's first message, or at its creation when we wrote first
# (a proactive message). Indexed with the workspace (conv_ws_started_idx).
STARTED = Coalesce(F("first_customer_message_at"), F("created_at"))


def started_between(start: object, end: object) -> Q:
    """Conversations that started in [start, end), as one indexed condition."""
    return Q(GreaterThanOrEqual(STARTED, start)) & Q(LessThan(STARTED, end))


ACTIVE_STATUSES = ("open", "pending", "snoozed")

# Columns the drill-down lists' indexes carry besides their keys: the dashboards' filters and
# the start's parts (DRILL_FILTER_COLUMNS), and what the lists' conditions compare
# (DRILL_CONDITION_COLUMNS).
DRILL_FILTER_COLUMNS = (
    "channel",
    "team",
    "assignee",
    "language",
    "customer",
    "first_customer_message_at",
    "created_at",
)
DRILL_CONDITION_COLUMNS = (
    "status",
    "resolved_at",
    "first_response_at",
    "first_response_due_at",
    "resolution_due_at",
    "reopen_count",
    "transfer_count",
)


# What the dashboards' facts read of a conversation (analytics.selectors.conversation_facts),
# covered by the indexes of a team's and an agent's periods. `created_at` and
# `first_customer_message_at` are there too: PostgreSQL reads an index alone only when it holds
# the columns behind `STARTED`, not just the expression.
FACT_COLUMNS = [
    "id",
    "customer",
    "status",
    "reopen_count",
    "transfer_count",
    "created_at",
    "first_customer_message_at",
    "first_response_at",
    "resolved_at",
    "first_response_due_at",
    "resolution_due_at",
]


class Conversation(WorkspaceScopedModel):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Priority(models.IntegerChoices):
        LOW = 0, _("Low")
        NORMAL = 1, _("Normal")
        HIGH = 2, _("High")
        URGENT = 3, _("Urgent")

    # Every conversation index but the foreign keys' starts with the workspace.
    workspace = workspace_key(db_index=False)
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="conversations")
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    # Looked up through conv_customer_idx (customer, last message), which starts with it.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    subject = models.CharField(_("subject"), max_length=300, blank=True, default="")
    language = models.CharField(_("language"), max_length=8, blank=True, default="")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="conversations")
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    external_thread_id = models.CharField(max_length=255, blank=True, default="")

    # Links: the earlier conversation a late reply continues, a conversation merged into this one,
    # and related conversations an agent linked by hand.
    # Set on few conversations: indexed where set (conv_previous_idx, conv_merged_into_idx), so
    # the others' rows, rewritten by every message, add no entry for them.
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="continued_by",
        db_index=False,
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        db_index=False,
    )
    related = models.ManyToManyField("self", blank=True, symmetrical=True)

    # Timestamps the metrics need (docs/metrics.md defines them). Recorded by the services only.
    last_message_at = models.DateTimeField(default=now)
    last_message_preview = models.CharField(max_length=200, blank=True, default="")
    first_customer_message_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_message_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    transfer_count = models.PositiveIntegerField(default=0)
    message_count = models.PositiveIntegerField(default=0)

    # What the dashboards' drill-down lists select on, kept with the conversation so that a list
    # and its count are read from an index instead of a join over the messages or handling
    # spans. Written by the services that add those rows, in the same transaction; true once
    # the conversation has a handling span / an assistant message / an agent reply.
    handled = models.BooleanField(default=False)
    has_bot_message = models.BooleanField(default=False)
    has_agent_reply = models.BooleanField(default=False)

    # SLA targets, computed by the SLA module (inbox/sla.py) when a policy applies. While the
    # conversation is pending on the customer the clock pauses: sla_paused_at marks the start.
    sla_policy = models.ForeignKey(
        "SLAPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            models.Index(
                fields=["workspace", "status", "-last_message_at", "-id"], name="conv_ws_status_idx"
            ),
            models.Index(
                fields=["workspace", "assignee", "status", "-last_message_at"],
                name="conv_ws_assignee_idx",
            ),
            models.Index(
                fields=["workspace", "-last_message_at", "-id"], name="conv_ws_recent_idx"
            ),
            models.Index(fields=["customer", "-last_message_at"], name="conv_customer_idx"),
            models.Index(
                fields=["previous"], condition=Q(previous__isnull=False), name="conv_previous_idx"
            ),
            models.Index(
                fields=["merged_into"],
                condition=Q(merged_into__isnull=False),
                name="conv_merged_into_idx",
            ),
            # When it started (`STARTED`): the dashboards' periods and drill-down lists.
            models.Index(F("workspace"), STARTED, name="conv_ws_started_idx"),
            # A period of one team's or one agent's conversations, the other filter columns in
            # the key so the dashboards' filters are checked in the index, with what
            # analytics.selectors.conversation_facts reads of each included: with three filters
            # the facts come from the index alone, not from rows spread over the table.
            models.Index(
                F("workspace"),
                F("team"),
                STARTED,
                F("channel"),
                F("language"),
                F("assignee"),
                include=FACT_COLUMNS,
                condition=Q(merged_into__isnull=True),
                name="conv_team_started_idx",
            ),
            models.Index(
                F("workspace"),
                F("assignee"),
                STARTED,
                F("channel"),
                F("language"),
                F("team"),
                include=FACT_COLUMNS,
                condition=Q(merged_into__isnull=True),
                name="conv_agent_started_idx",
            ),
            # Whether a customer came back within the first-contact window after a resolution:
            # one index probe per resolved conversation instead of reading all theirs.
            models.Index(
                F("customer"),
                STARTED,
                condition=Q(merged_into__isnull=True),
                name="conv_customer_started_idx",
            ),
            # The "SLA due soon" view: one small index per clock over the active conversations,
            # so the view (an OR of the three) is a bitmap of the due ones, not a scan.
            models.Index(
                fields=["workspace", "first_response_due_at"],
                condition=Q(status__in=ACTIVE_STATUSES, first_response_at__isnull=True),
                name="conv_sla_first_due_idx",
            ),
            models.Index(
                fields=["workspace", "next_response_due_at"],
                condition=Q(status__in=ACTIVE_STATUSES, waiting_since__isnull=False),
                name="conv_sla_next_due_idx",
            ),
            models.Index(
                fields=["workspace", "resolution_due_at"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="conv_sla_resolution_due_idx",
            ),
            # What agents have open now (the team view's workload, the "open_now" list): only
            # the open conversations, so counting them per agent reads no closed history; with
            # the dashboards' filter columns, a filtered count is read from the index alone.
            models.Index(
                fields=["workspace", "assignee", "channel", "team", "language"],
                condition=Q(
                    status__in=("open", "pending", "snoozed"),
                    merged_into__isnull=True,
                    assignee__isnull=False,
                ),
                name="conv_open_assignee_idx",
            ),
            # The drill-down lists (analytics/dashboards/conversations.py): the conversations
            # started in a period, newest first, with the dashboards' filter columns and what
            # the lists' conditions read, so that a list's count is an index-only scan. The
            # start's own columns are included because the planner only takes an index-only
            # scan when every column the query names is in the index.
            models.Index(
                F("workspace"),
                STARTED,
                F("id"),
                include=[*DRILL_FILTER_COLUMNS, *DRILL_CONDITION_COLUMNS],
                condition=Q(merged_into__isnull=True),
                name="conv_drill_idx",
            ),
            # The lists whose condition few conversations meet, each its own small index.
            models.Index(
                F("workspace"),
                STARTED,
                F("id"),
                include=DRILL_FILTER_COLUMNS,
                condition=Q(merged_into__isnull=True, handled=True),
                name="conv_drill_handled_idx",
            ),
            models.Index(
                F("workspace"),
                STARTED,
                F("id"),
                include=DRILL_FILTER_COLUMNS,
                condition=Q(
                    merged_into__isnull=True,
                    resolved_at__isnull=False,
                    has_bot_message=True,
                    has_agent_reply=False,
                ),
                name="conv_drill_bot_resolved_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.subject or f"#{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.PENDING, self.Status.SNOOZED)


class Participant(models.Model):
    """A contact taking part in a conversation besides its customer (cc, group chats)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "customer"], name="participant_unique")
        ]

    def __str__(self) -> str:
        return f"customer #{self.customer_id} in conversation #{self.conversation_id}"


class Message(WorkspaceScopedModel):
    class Kind(models.TextChoices):
        INBOUND = "inbound", _("Customer message")
        OUTBOUND = "outbound", _("Reply")
        NOTE = "note", _("Internal note")
        SYSTEM = "system", _("System")
        BOT = "bot", _("Assistant")

    class Delivery(models.TextChoices):
        RECEIVED = "received", _("Received")
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    # Looked up through message_thread_kind_idx, which starts with it.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # Set on agents' messages only: indexed where set (message_author_user_idx), so a
    # customer's message adds no entry for it.
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    author_customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(_("text"), blank=True, default="")
    html = models.TextField(_("HTML"), blank=True, default="")
    provider_id = models.CharField(max_length=255, null=True, blank=True)
    delivery_status = models.CharField(
        max_length=10, choices=Delivery.choices, default=Delivery.RECEIVED
    )
    delivery_error = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, through="Mention", related_name="+"
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            # A provider's retried delivery is a no-op: its id is unique per inbox (channel).
            models.UniqueConstraint(
                fields=["inbox", "provider_id"],
                name="message_provider_id_unique",
                condition=models.Q(provider_id__isnull=False),
            )
        ]
        indexes = [
            # A thread in time order; with the kind (and workspace) included, what the
            # dashboards need of a conversation's messages is read from the index alone
            # (analytics.selectors, the message summary), not from rows spread over the table.
            models.Index(
                fields=["conversation", "created_at", "id"],
                include=["kind", "workspace"],
                name="message_thread_kind_idx",
            ),
            models.Index(
                fields=["author_user"],
                condition=Q(author_user__isnull=False),
                name="message_author_user_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


# What separates two message texts in a search text. A term that contains it is searched the
# plain way (inbox.selectors), so no match can run across two messages.
SEARCH_TEXT_SEPARATOR = "\n"


class ConversationSearchText(models.Model):
    """The message texts of a conversation, newline-separated, in rows of about
    `inbox.services.SEARCH_TEXT_CHUNK` characters: what console search reads instead of every
    message (one row per conversation for most, a probe per row in the newest-first walk, and a
    trigram index on PostgreSQL, migration inbox 0008). Written by the inbox services with each
    message, in the same transaction; never edited by hand. A conversation's texts may sit in
    any order across its rows: search only asks whether one of them contains the term."""

    workspace = workspace_key(db_index=False)  # read through the conversation or the index
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = _("conversation search text")
        verbose_name_plural = _("conversation search texts")

    def __str__(self) -> str:
        return f"search text of conversation #{self.conversation_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.workspace_id}/{now():%Y/%m}/{filename}"


class Attachment(WorkspaceScopedModel):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, blank=True)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=120)
    size = models.PositiveBigIntegerField()
    # A refused attachment is kept as a record with the reason, so it is never silently dropped.
    refused_reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")


class Mention(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="mention_unique")]

    def __str__(self) -> str:
        return f"user #{self.user_id} in message #{self.message_id}"


class ConversationEvent(WorkspaceScopedModel):
    """Each status change, assignment, transfer, priority or tag change: who, when, why.

    Metrics (first response, resolution, transfers, reopen rate) are computed from these rows and
    the message timestamps, never from mutable fields alone.
    """

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATUS = "status", _("Status changed")
        ASSIGNED = "assigned", _("Assigned")
        TRANSFERRED = "transferred", _("Transferred")
        PRIORITY = "priority", _("Priority changed")
        TAGGED = "tagged", _("Tags changed")
        REOPENED = "reopened", _("Reopened")
        MERGED = "merged", _("Merged")
        SLA = "sla", _("SLA")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_value = models.CharField(max_length=100, blank=True, default="")
    to_value = models.CharField(max_length=100, blank=True, default="")
    reason = models.CharField(max_length=300, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="conv_event_idx")]


class HandlingInterval(WorkspaceScopedModel):
    """A span of time an agent had the conversation in front of them or was composing."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="handling_intervals"
    )
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["agent", "started_at"], name="handling_agent_idx")]


class Macro(WorkspaceScopedModel):
    """A templated reply with actions. Variables: {{ customer.name }}, {{ last_order.id }}..."""

    name = models.CharField(_("name"), max_length=120)
    body = models.TextField(_("reply"), blank=True, default="")
    actions = models.JSONField(_("actions"), default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = _("macro")
        verbose_name_plural = _("macros")
        ordering = ["name"]


class AgentProfile(WorkspaceScopedModel):
    """An agent's availability, capacity per channel, skills and languages in one workspace."""

    class Availability(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profiles"
    )
    availability = models.CharField(
        _("availability"),
        max_length=8,
        choices=Availability.choices,
        default=Availability.OFFLINE,
    )
    # {"webchat": 3, "email": 10, "*": 5}: open conversations an agent takes per channel;
    # "*" is the default for channels not named.
    capacity = models.JSONField(_("capacity"), default=dict, blank=True)
    skills = models.JSONField(_("skills"), default=list, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="agent_profile_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.availability})"


class AvailabilitySpan(WorkspaceScopedModel):
    """A stretch of time an agent spent online or away (offline is the absence of a span).

    Written by `routing.agent_set_availability` in the transaction that changes the profile:
    the agent's current span (`ended_at` null) is closed and, unless the agent goes offline,
    a new one opens. An agent has at most one open span per workspace.
    """

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        _("availability"), max_length=8, choices=AgentProfile.Availability.choices
    )
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        verbose_name = _("availability span")
        verbose_name_plural = _("availability spans")
        ordering = ["started_at", "id"]
        indexes = [
            models.Index(fields=["workspace", "started_at"], name="availability_ws_idx"),
            models.Index(fields=["agent", "started_at"], name="availability_agent_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "agent"],
                condition=models.Q(ended_at__isnull=True),
                name="availability_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.status} {self.started_at:%Y-%m-%d %H:%M}"


class BusinessHours(WorkspaceScopedModel):
    """A weekly schedule in a time zone with holidays; per team, or the workspace default."""

    name = models.CharField(_("name"), max_length=120)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="business_hours"
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    # {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], ..., "sun": []}
    schedule = models.JSONField(_("weekly schedule"), default=dict)
    # ["2026-12-25", "2026-12-26"]: whole days closed, in the calendar's time zone.
    holidays = models.JSONField(_("holidays"), default=list, blank=True)

    class Meta:
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SLAPolicy(WorkspaceScopedModel):
    """Targets for first response, next response and resolution, matched by priority, value
    tier and channel (blank matches any); the lowest `position` that matches applies."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(default=0)
    priority = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=Conversation.Priority.choices
    )
    value_tier = models.CharField(max_length=10, blank=True, default="")
    channel = models.CharField(max_length=12, blank=True, default="", choices=Channel.choices)
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    business_hours = models.ForeignKey(
        BusinessHours, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    warn_before_minutes = models.PositiveIntegerField(default=15)
    # Escalation on breach, any of: "notify", "reassign_supervisor", "raise_priority".
    escalation = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class SLAAlert(WorkspaceScopedModel):
    """A warning or breach that fired for one target of one conversation. The unique constraint
    is what keeps several workers from firing it twice."""

    class Target(models.TextChoices):
        FIRST_RESPONSE = "first_response", _("First response")
        NEXT_RESPONSE = "next_response", _("Next response")
        RESOLUTION = "resolution", _("Resolution")

    class Kind(models.TextChoices):
        WARNING = "warning", _("Warning")
        BREACH = "breach", _("Breach")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="sla_alerts"
    )
    target = models.CharField(max_length=16, choices=Target.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    due_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "target", "kind", "due_at"], name="sla_alert_once"
            )
        ]
