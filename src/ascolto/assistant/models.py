"""The tier-1 assistant's settings and records, triage results and rules, deflection."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.accounts.models import Team
from ascolto.core.models import Workspace, WorkspaceScopedModel
from ascolto.customers.models import Customer
from ascolto.inbox.models import Conversation, Message


def default_channels() -> list[str]:
    return ["webchat", "whatsapp", "sms"]


def default_sensitive_intents() -> list[str]:
    return ["billing_dispute", "complaint"]


def default_sensitive_keywords() -> list[str]:
    return ["chargeback", "refund dispute", "complaint", "reclamo", "contestazione", "תלונה"]


class AssistantSettings(models.Model):
    """One row per workspace; absent means the assistant is off."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="assistant_settings"
    )
    enabled = models.BooleanField(_("enabled"), default=False)
    confidence_threshold = models.FloatField(_("confidence threshold"), default=0.5)
    sensitive_intents = models.JSONField(default=default_sensitive_intents, blank=True)
    sensitive_keywords = models.JSONField(default=default_sensitive_keywords, blank=True)
    channels = models.JSONField(default=default_channels, blank=True)
    # Below this sentiment confidence a "negative" prediction does not trigger a hand-off.
    negative_sentiment_floor = models.FloatField(default=0.6)
    generative_enabled = models.BooleanField(_("generative mode"), default=False)
    generative_base_url = models.URLField(_("generative endpoint"), blank=True, default="")
    generative_model = models.CharField(_("generative model"), max_length=120, blank=True)
    generative_api_key = models.CharField(max_length=500, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("assistant settings")
        verbose_name_plural = _("assistant settings")

    def __str__(self) -> str:
        return f"assistant settings of workspace #{self.workspace_id}"


class BotSession(WorkspaceScopedModel):
    """The assistant's part in one conversation: what it answered and how it ended."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        ANSWERED = "answered", _("Answered, waiting for confirmation")
        RESOLVED = "resolved", _("Resolved by the assistant")
        HANDED_OFF = "handed_off", _("Handed off")

    class Reason(models.TextChoices):
        ASKED_FOR_PERSON = "asked_for_person", _("Asked for a person")
        LOW_CONFIDENCE = "low_confidence", _("No article good enough")
        NEGATIVE_SENTIMENT = "negative_sentiment", _("Negative sentiment")
        SENSITIVE_TOPIC = "sensitive_topic", _("Sensitive topic")
        NOT_SOLVED = "not_solved", _("The answer did not solve it")

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="bot_session"
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    handoff_reason = models.CharField(max_length=20, choices=Reason.choices, blank=True, default="")
    handed_off_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    confirmed = models.BooleanField(default=False)
    answers = models.PositiveIntegerField(default=0)
    # The last inbound message handled: a redelivered event does nothing twice.
    last_message_id = models.BigIntegerField(null=True, blank=True)
    # Article ids offered so far, in order: the hand-off summary names them.
    suggested = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"], name="botsession_ws_idx")]

    def __str__(self) -> str:
        return f"bot session of conversation #{self.conversation_id}"


class MessageTriage(WorkspaceScopedModel):
    """Language, intent and sentiment detected for one inbound message."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="triage")
    language = models.CharField(max_length=8, blank=True, default="")
    language_confidence = models.FloatField(default=0.0)
    intent = models.CharField(max_length=100, blank=True, default="")
    intent_confidence = models.FloatField(null=True, blank=True)
    sentiment = models.CharField(max_length=20, blank=True, default="")
    sentiment_confidence = models.FloatField(null=True, blank=True)
    # The rule applied, if any (the intent cleared the rule's floor).
    rule = models.ForeignKey(
        "TriageRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"triage of message #{self.message_id}"


class TriageRule(WorkspaceScopedModel):
    """When a message's intent is `intent` with confidence >= `min_confidence`: add tags, set
    the team and the priority (each optional)."""

    intent = models.CharField(_("intent"), max_length=100)
    min_confidence = models.FloatField(_("confidence floor"), default=0.7)
    add_tags = models.JSONField(default=list, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    priority = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=Conversation.Priority.choices
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("triage rule")
        verbose_name_plural = _("triage rules")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "intent"], name="triage_rule_unique")
        ]

    def __str__(self) -> str:
        return self.intent


class DeflectionOffer(WorkspaceScopedModel):
    """Articles shown before a conversation started (widget pre-chat, email acknowledgement)."""

    class Source(models.TextChoices):
        WIDGET = "widget", _("Web chat pre-chat")
        EMAIL = "email", _("Email acknowledgement")

    source = models.CharField(max_length=10, choices=Source.choices)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    visitor_key = models.CharField(max_length=100, blank=True, default="")
    language = models.CharField(max_length=8)
    query = models.TextField(blank=True, default="")
    article_ids = models.JSONField(default=list)
    # The conversation the offer answers (an email acknowledgement's), if any.
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The article the customer said answered the question (email "This answered my question").
    confirmed_article_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"], name="deflection_ws_idx")]

    def __str__(self) -> str:
        return f"deflection offer #{self.pk}"
