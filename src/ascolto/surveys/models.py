"""Voice of the customer: surveys, questions, invitations, responses and closed-loop follow-ups.

Translations. A survey's texts are written in its `default_language`; the other languages
(en, it, he) live in a `translations` JSON column on the row that owns the text, keyed by
language then field:

    Survey.translations   = {"it": {"title": "...", "intro": "...", "thanks": "..."}, "he": {...}}
    Question.translations = {"it": {"text": "...", "low_label": "...", "high_label": "...",
                                    "choices": {"<choice value>": "<label>"}}}

A missing language or field falls back to the default-language text, so a half-translated
survey still reads whole. JSON instead of a Translation table: a survey and its questions load
in two queries in every language, and texts are edited together with the survey.
See docs/decisions/0007-surveys.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.accounts.models import Team
from ascolto.core.models import Workspace, WorkspaceScopedModel
from ascolto.customers.models import Customer, Order
from ascolto.inbox.models import Conversation, Inbox

LANGUAGES = ("en", "it", "he")
NPS_RANGE = (0, 10)
CSAT_RANGE = (1, 5)
CES_RANGE = (1, 7)


class Touchpoint(models.TextChoices):
    SUPPORT = "support", _("Support")
    DELIVERY = "delivery", _("Delivery")
    PRODUCT = "product", _("Product")
    BILLING = "billing", _("Billing")
    WEBSITE = "website", _("Website")


class SurveySettings(models.Model):
    """Workspace-wide survey rules: suppression, reminders and the closed loop."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="survey_settings"
    )
    # No customer is invited more than once in this many days, across all surveys.
    suppression_days = models.PositiveIntegerField(
        _("ask a customer at most every (days)"), default=30
    )
    # One reminder this many hours after the invitation when unanswered; 0 turns reminders off.
    reminder_after_hours = models.PositiveIntegerField(_("remind after (hours)"), default=72)
    followup_due_hours = models.PositiveIntegerField(_("follow-up due within (hours)"), default=48)
    followup_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("default follow-up owner"),
    )
    # Ordered owner rules, first match wins: [{"touchpoint": "delivery", "segment": "gold",
    # "reason": "nps", "owner": 12 | "agent", "due_hours": 24}]; absent keys match anything.
    followup_rules = models.JSONField(_("follow-up rules"), default=list, blank=True)
    followup_inbox = models.ForeignKey(
        Inbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    followup_on_negative_sentiment = models.BooleanField(
        _("follow up negative comments"), default=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("survey settings")
        verbose_name_plural = _("survey settings")

    def __str__(self) -> str:
        return f"Survey settings of {self.workspace_id}"


class Survey(WorkspaceScopedModel):
    class Kind(models.TextChoices):
        NPS = "nps", _("Net Promoter Score")
        CSAT = "csat", _("Customer satisfaction")
        CES = "ces", _("Customer effort")
        CUSTOM = "custom", _("Custom")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("Manual or API")
        LINK = "link", _("Survey link")
        CONVERSATION_RESOLVED = "conversation_resolved", _("Conversation resolved")
        ORDER_DELIVERED = "order_delivered", _("Order delivered")
        RELATIONAL = "relational", _("Relational, every N days")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    touchpoint = models.CharField(_("touchpoint"), max_length=10, choices=Touchpoint.choices)
    default_language = models.CharField(_("language"), max_length=8, default="en")
    title = models.CharField(_("title"), max_length=300)
    intro = models.TextField(_("introduction"), blank=True, default="")
    thanks = models.TextField(_("thank-you message"), blank=True, default="")
    translations = models.JSONField(_("translations"), default=dict, blank=True)

    trigger = models.CharField(
        _("trigger"), max_length=24, choices=Trigger.choices, default=Trigger.MANUAL
    )
    delay_minutes = models.PositiveIntegerField(_("delay (minutes)"), default=60)
    # Conversation channels that trigger the survey (["email", "webchat"]); empty: all.
    trigger_channels = models.JSONField(_("trigger channels"), default=list, blank=True)
    relational_every_days = models.PositiveIntegerField(_("every (days)"), default=90)
    sampling_rate = models.FloatField(_("sampling rate"), default=1.0)
    expiry_days = models.PositiveIntegerField(_("link valid for (days)"), default=14)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["name"]
        indexes = [
            models.Index(fields=["workspace", "trigger", "is_active"], name="survey_trigger_idx")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def languages(self) -> list[str]:
        extra = [code for code in LANGUAGES if code in self.translations]
        return [self.default_language, *(c for c in extra if c != self.default_language)]


class Question(models.Model):
    class Type(models.TextChoices):
        NPS = "nps", _("0-10 likelihood to recommend")
        CSAT = "csat", _("1-5 satisfaction")
        CES = "ces", _("1-7 effort")
        RATING = "rating", _("Rating")
        SINGLE_CHOICE = "single_choice", _("Single choice")
        MULTIPLE_CHOICE = "multiple_choice", _("Multiple choice")
        TEXT = "text", _("Free text")

    class Display(models.TextChoices):
        NUMBERS = "numbers", _("Numbers")
        STARS = "stars", _("Stars")
        FACES = "faces", _("Faces")

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    key = models.SlugField(_("key"), max_length=40)
    position = models.PositiveSmallIntegerField(_("order"))
    type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    text = models.CharField(_("question"), max_length=500)
    required = models.BooleanField(_("required"), default=False)
    display = models.CharField(
        _("display"), max_length=8, choices=Display.choices, default=Display.NUMBERS
    )
    scale_min = models.SmallIntegerField(_("lowest value"), null=True, blank=True)
    scale_max = models.SmallIntegerField(_("highest value"), null=True, blank=True)
    low_label = models.CharField(_("low end label"), max_length=120, blank=True, default="")
    high_label = models.CharField(_("high end label"), max_length=120, blank=True, default="")
    # [{"value": "price", "label": "Price"}, ...] for choice questions.
    choices = models.JSONField(_("choices"), default=list, blank=True)
    # Skip logic: {"question": "<earlier key>", "in": [answers]}; empty: always shown.
    show_if = models.JSONField(_("show if"), default=dict, blank=True)
    # "End the survey after this answer if it is one of": {"in": [answers]} (this question's own
    # answer, as in show_if); empty: never ends here.
    end_if = models.JSONField(_("end if"), default=dict, blank=True)
    translations = models.JSONField(_("translations"), default=dict, blank=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["survey", "position"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "key"], name="question_key_unique"),
            models.UniqueConstraint(fields=["survey", "position"], name="question_position_unique"),
        ]

    def __str__(self) -> str:
        return self.key


class Invitation(WorkspaceScopedModel):
    """One customer asked one survey once, for one trigger source (a conversation, an order...).

    The link is a signed token carrying the invitation id and a random nonce; only SHA-256
    digests of the nonces are stored (`token_digests`: one per issue, e.g. the invitation and
    its reminder), so the database alone cannot produce a working link.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        LINK = "link", _("Link")
        # Sent as a message in the customer's SMS or WhatsApp conversation, answered by reply.
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")

    class SkipReason(models.TextChoices):
        NONE = "", _("Not skipped")
        SAMPLING = "sampling", _("Not sampled")
        SUPPRESSED = "suppressed", _("Asked recently")
        NO_CONSENT = "no_consent", _("No survey consent")
        NO_ADDRESS = "no_address", _("No address for the channel")
        INACTIVE = "inactive", _("Survey inactive")

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    skip_reason = models.CharField(
        _("skip reason"), max_length=12, choices=SkipReason.choices, blank=True, default=""
    )
    # What caused it ("conversation:42", "order:7", "relational:231", "api:<uuid>"): unique per
    # survey, so a re-delivered event never invites twice.
    source_key = models.CharField(max_length=100)
    language = models.CharField(_("language"), max_length=8, default="en")
    token_digests = models.JSONField(default=list, blank=True)
    send_after = models.DateTimeField(_("send after"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    bounce_reason = models.CharField(max_length=300, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The channel the customer used with us (the conversation's), as opposed to `channel`.
    context_channel = models.CharField(max_length=12, blank=True, default="")
    context = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(fields=["survey", "source_key"], name="invitation_source_once")
        ]
        indexes = [
            models.Index(
                fields=["send_after", "id"],
                name="invitation_due_idx",
                condition=models.Q(status="scheduled"),
            ),
            models.Index(fields=["customer", "-created_at"], name="invitation_customer_idx"),
            models.Index(fields=["workspace", "survey", "-id"], name="invitation_survey_idx"),
            models.Index(fields=["workspace", "updated_at"], name="invitation_changed_idx"),
            models.Index(fields=["workspace", "sent_at"], name="invitation_sent_idx"),
            models.Index(fields=["workspace", "agent", "sent_at"], name="invitation_agent_idx"),
            models.Index(fields=["workspace", "team", "sent_at"], name="invitation_team_idx"),
            models.Index(
                fields=["sent_at"],
                name="invitation_remind_idx",
                condition=models.Q(
                    status="sent", reminded_at__isnull=True, answered_at__isnull=True
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.source_key}"


# What a dashboard's direct count reads of a response besides its index keys (index-only scans).
_RESPONSE_DIMENSIONS = [
    "channel",
    "language",
    "segment",
    "nps_score",
    "csat_score",
    "ces_score",
    "completed",
]


class Response(WorkspaceScopedModel):
    """A customer's answers to one invitation (at most one). Saved after every page, so a
    partial answer is kept; `completed` once the last page is sent (or the answer went stale).

    `answers` maps question keys to values (int, str, list of str), None for a question seen
    and left blank. The score columns and the breakdown columns (channel, team, agent, segment,
    language, touchpoint) are copied at creation so aggregation reads this table alone.
    """

    class Closed(models.TextChoices):
        OPEN = "", _("In progress")
        SUBMITTED = "submitted", _("Submitted")
        TIMED_OUT = "timed_out", _("Left unfinished")

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE, related_name="response")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    answers = models.JSONField(default=dict, blank=True)
    completed = models.BooleanField(default=False)
    closed = models.CharField(max_length=10, choices=Closed.choices, blank=True, default="")
    submitted_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(max_length=8, default="en")
    nps_score = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True)
    ces_score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    sentiment = models.CharField(max_length=10, blank=True, default="")

    touchpoint = models.CharField(max_length=10, choices=Touchpoint.choices)
    channel = models.CharField(max_length=12, blank=True, default="")
    segment = models.CharField(max_length=10, blank=True, default="")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        indexes = [
            models.Index(
                fields=["workspace", "survey", "-created_at", "-id"], name="response_survey_idx"
            ),
            models.Index(
                fields=["workspace", "created_at"],
                name="response_nps_idx",
                condition=models.Q(nps_score__isnull=False),
            ),
            models.Index(
                fields=["workspace", "created_at"],
                name="response_csat_idx",
                condition=models.Q(csat_score__isnull=False),
            ),
            models.Index(
                fields=["workspace", "created_at"],
                name="response_ces_idx",
                condition=models.Q(ces_score__isnull=False),
            ),
            models.Index(fields=["customer", "-created_at"], name="response_customer_idx"),
            models.Index(fields=["workspace", "updated_at"], name="response_changed_idx"),
            # The edges of a rolled-up period (part days, today) are counted by time range.
            models.Index(fields=["workspace", "created_at"], name="response_created_idx"),
            # Dashboard selections the rollups have no rows for (an agent with another filter,
            # three breakdowns) are counted directly: narrowed by the agent or the team first.
            models.Index(
                fields=["workspace", "agent", "created_at"],
                name="response_agent_idx",
                include=[*_RESPONSE_DIMENSIONS, "team"],
            ),
            models.Index(
                fields=["workspace", "team", "created_at"],
                name="response_team_idx",
                include=[*_RESPONSE_DIMENSIONS, "agent"],
            ),
            models.Index(
                fields=["updated_at"], name="response_open_idx", condition=models.Q(completed=False)
            ),
        ]

    def __str__(self) -> str:
        return f"Response #{self.pk}"


class FollowUp(WorkspaceScopedModel):
    """The closed loop of one poor answer: a case in the inbox, its owner, the root cause and the
    action taken, and the message that told the customer what changed."""

    class Reason(models.TextChoices):
        NPS = "nps", _("Detractor (NPS 0-6)")
        CSAT = "csat", _("Dissatisfied (CSAT 1-2)")
        CES = "ces", _("High effort (CES 5-7)")
        SENTIMENT = "sentiment", _("Negative comment")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONTACTED = "contacted", _("Customer contacted")
        CLOSED = "closed", _("Loop closed")

    class RootCause(models.TextChoices):
        NONE = "", _("Not recorded")
        PRODUCT = "product", _("Product")
        DELIVERY = "delivery", _("Delivery")
        BILLING = "billing", _("Billing")
        PRICING = "pricing", _("Pricing")
        SUPPORT_PROCESS = "support_process", _("Support process")
        AGENT = "agent", _("Agent behaviour")
        WEBSITE = "website", _("Website")
        POLICY = "policy", _("Policy")
        OTHER = "other", _("Other")

    response = models.OneToOneField(Response, on_delete=models.CASCADE, related_name="followup")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    due_at = models.DateTimeField(_("due"))
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    root_cause = models.CharField(
        _("root cause"), max_length=16, choices=RootCause.choices, blank=True, default=""
    )
    action_taken = models.TextField(_("action taken"), blank=True, default="")
    closing_message = models.TextField(_("message to the customer"), blank=True, default="")
    closed_at = models.DateTimeField(_("loop closed"), null=True, blank=True)
    # The closing message goes out by email after commit (tasks.send_followup_message).
    notified_at = models.DateTimeField(_("customer told"), null=True, blank=True)
    notify_error = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [
            models.Index(fields=["workspace", "status", "due_at"], name="followup_queue_idx"),
            models.Index(fields=["workspace", "-created_at"], name="followup_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"Follow-up #{self.pk}"


class DailyRollup(models.Model):
    """Survey figures of one UTC day, one survey and one breakdown value, so the metrics of long
    periods add up a few thousand rows instead of scanning every response (surveys/rollups.py).

    `dimension` is "" for the survey's totals, else a breakdown name (channel, team, agent,
    segment, language, touchpoint) and `key` its value. The dashboards' combined filters have
    rows per channel too: `dimension` "team+language/channel", `key` "3|it" and `channel` the
    channel (rollups.CHANNEL_COMBOS); other rows have an empty `channel`. Response counts are
    those of every response and, as `done_*`, of the completed ones; invitation counts are those
    sent that day (and opened or answered since)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=32, blank=True, default="")
    key = models.CharField(max_length=40, blank=True, default="")
    channel = models.CharField(max_length=12, blank=True, default="")
    responses = models.PositiveIntegerField(default=0)
    promoters = models.PositiveIntegerField(default=0)
    passives = models.PositiveIntegerField(default=0)
    detractors = models.PositiveIntegerField(default=0)
    csat_n = models.PositiveIntegerField(default=0)
    csat_satisfied = models.PositiveIntegerField(default=0)
    ces_n = models.PositiveIntegerField(default=0)
    ces_total = models.PositiveIntegerField(default=0)
    done_responses = models.PositiveIntegerField(default=0)
    done_promoters = models.PositiveIntegerField(default=0)
    done_passives = models.PositiveIntegerField(default=0)
    done_detractors = models.PositiveIntegerField(default=0)
    done_csat_n = models.PositiveIntegerField(default=0)
    done_csat_satisfied = models.PositiveIntegerField(default=0)
    done_ces_n = models.PositiveIntegerField(default=0)
    done_ces_total = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily survey rollup")
        verbose_name_plural = _("daily survey rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "dimension", "day", "survey", "key", "channel"],
                name="survey_rollup_unique",
            )
        ]
        indexes = [
            # A dashboard's filters read one key of a dimension over the period.
            models.Index(
                fields=["workspace", "dimension", "key", "day"], name="survey_rollup_key_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} survey #{self.survey_id} {self.dimension}={self.key}"


class RollupState(models.Model):
    """How far a workspace's daily rollups go: days before `covered_until` (UTC) are rolled up;
    `scanned_at` is when changed rows were last looked for."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="+")
    covered_until = models.DateField(null=True, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("survey rollup state")
        verbose_name_plural = _("survey rollup states")

    def __str__(self) -> str:
        return f"survey rollups of workspace #{self.workspace_id} until {self.covered_until}"


class InterceptAnswer(WorkspaceScopedModel):
    """A website visitor's answer to a survey's first question, given in the intercept snippet
    (static/ascolto/intercept.js). Visitors are anonymous: `visitor` is the id the snippet keeps
    in the browser, or the host site's own id for its signed-in users. One answer per visitor,
    survey and period (`period`: the index of the workspace's suppression window it fell in).
    Counted in the survey's figures and listed with its responses as channel "website"."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="intercepts")
    visitor = models.CharField(max_length=64)
    period = models.PositiveIntegerField()
    score = models.SmallIntegerField()
    language = models.CharField(max_length=8, default="en")
    page = models.CharField(max_length=300, blank=True, default="")
    # The score again in the column of its kind (the first question's type), named as on
    # Response, so the survey figures count both with the same expressions (aggregates.py).
    nps_score = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True)
    ces_score = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("website answer")
        verbose_name_plural = _("website answers")
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "visitor", "period"], name="intercept_once_per_period"
            )
        ]
        indexes = [
            models.Index(
                fields=["workspace", "survey", "-created_at"], name="intercept_survey_idx"
            ),
            # Period counts and the rollups' scans of changed days.
            models.Index(fields=["workspace", "created_at"], name="intercept_created_idx"),
            models.Index(fields=["workspace", "updated_at"], name="intercept_changed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.visitor}"


class Submission(models.Model):
    """One accepted page of answers (or one-click score), waiting to be written into its
    Response by the intake worker (services/intake.py, docs/decisions/0010-survey-intake.md).

    The page submit validates against the survey's questions and inserts this row in one
    statement, so the customer is answered at once; the worker completes rows in batches and
    sets `processed_at` in the same transaction as the Response, timeline and outbox writes.
    `key` tells submissions of an invitation apart: a double submit of the same form carries
    the same key and is stored once. `answers` holds the cleaned answers of this page only;
    `completes` records that, with the answers before it, no question was left.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    answers = models.JSONField(default=dict)
    language = models.CharField(max_length=8, blank=True, default="")
    completes = models.BooleanField(default=False)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = _("survey submission")
        verbose_name_plural = _("survey submissions")
        constraints = [
            models.UniqueConstraint(fields=["invitation", "key"], name="submission_once")
        ]
        indexes = [
            models.Index(
                fields=["id"],
                name="submission_pending_idx",
                condition=models.Q(processed_at__isnull=True),
            ),
            models.Index(fields=["processed_at"], name="submission_processed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.invitation_id}/{self.key}"
