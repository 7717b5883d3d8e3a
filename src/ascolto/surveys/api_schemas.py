"""Request and response shapes of the surveys API. String limits match the model columns."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, Field

from ascolto.core.api import Id, JsonObject, Timestamp, no_nul
from ascolto.core.schemas import InSchema
from ascolto.surveys import metrics

Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(no_nul)]
Title = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(no_nul)]
LongText = Annotated[str, Field(max_length=5000), AfterValidator(no_nul)]
QuestionText = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(no_nul)]
ScaleLabel = Annotated[str, Field(max_length=120), AfterValidator(no_nul)]
Key = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
SourceKey = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(no_nul)]
Reason = Annotated[str, Field(max_length=300), AfterValidator(no_nul)]

SurveyKind = Literal["nps", "csat", "ces", "custom"]
TouchpointChoice = Literal["support", "delivery", "product", "billing", "website"]
TriggerChoice = Literal["manual", "link", "conversation_resolved", "order_delivered", "relational"]
LanguageChoice = Literal["en", "it", "he"]
ConversationChannel = Literal[
    "webchat", "email", "sms", "whatsapp", "messenger", "instagram", "voice", "api"
]
QuestionType = Literal["nps", "csat", "ces", "rating", "single_choice", "multiple_choice", "text"]
DisplayChoice = Literal["numbers", "stars", "faces"]
InvitationChannel = Literal["email", "link"]
InvitationStatus = Literal["scheduled", "sent", "skipped", "failed", "bounced"]
Breakdown = Literal["channel", "team", "agent", "segment", "language", "touchpoint", "survey"]
FollowUpStatus = Literal["open", "contacted", "closed"]
RootCause = Literal[
    "product",
    "delivery",
    "billing",
    "pricing",
    "support_process",
    "agent",
    "website",
    "policy",
    "other",
]


# --- Surveys --------------------------------------------------------------------------------


class ChoiceIn(InSchema):
    value: Annotated[str, Field(min_length=1, max_length=60), AfterValidator(no_nul)]
    label: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(no_nul)]


class ShowIfIn(InSchema):
    question: Key
    in_: list[Annotated[str | int, Field()]] = Field(alias="in", min_length=1, max_length=30)


class EndIfIn(InSchema):
    """End the survey after this question when its answer is one of these."""

    in_: list[Annotated[str | int, Field()]] = Field(alias="in", min_length=1, max_length=30)


class QuestionIn(InSchema):
    key: Key
    type: QuestionType
    text: QuestionText
    required: bool = False
    display: DisplayChoice = "numbers"
    scale_min: Annotated[int, Field(ge=0, le=10)] | None = None
    scale_max: Annotated[int, Field(ge=1, le=10)] | None = None
    low_label: ScaleLabel = ""
    high_label: ScaleLabel = ""
    choices: list[ChoiceIn] = Field(default_factory=list, max_length=30)
    show_if: ShowIfIn | None = None
    end_if: EndIfIn | None = None
    translations: JsonObject = Field(
        default_factory=dict,
        description='{"it": {"text": "...", "low_label": "...", "high_label": "...", '
        '"choices": {"<value>": "<label>"}}}',
    )


class QuestionOut(Schema):
    key: str
    position: int
    type: str
    text: str
    required: bool
    display: str
    scale_min: int | None
    scale_max: int | None
    low_label: str
    high_label: str
    choices: list[dict[str, Any]]
    show_if: dict[str, Any]
    end_if: dict[str, Any]
    translations: dict[str, Any]


class SurveyFields(InSchema):
    default_language: LanguageChoice = "en"
    intro: LongText = ""
    thanks: LongText = ""
    translations: JsonObject = Field(
        default_factory=dict,
        description='{"it": {"title": "...", "intro": "...", "thanks": "..."}}',
    )
    trigger: TriggerChoice = "manual"
    delay_minutes: Annotated[int, Field(ge=0, le=60 * 24 * 30)] = 60
    trigger_channels: list[ConversationChannel] = Field(default_factory=list, max_length=8)
    relational_every_days: Annotated[int, Field(ge=1, le=3650)] = 90
    sampling_rate: Annotated[float, Field(ge=0, le=1)] = 1.0
    expiry_days: Annotated[int, Field(ge=1, le=365)] = 14
    is_active: bool = True


class SurveyIn(SurveyFields):
    kind: SurveyKind
    name: Name
    touchpoint: TouchpointChoice
    title: Title
    questions: list[QuestionIn] | None = Field(
        default=None,
        max_length=50,
        description="Omit for NPS, CSAT and CES to get the standard questions (en, it, he).",
    )


class SurveyPatch(InSchema):
    name: Name | None = None
    touchpoint: TouchpointChoice | None = None
    default_language: LanguageChoice | None = None
    title: Title | None = None
    intro: LongText | None = None
    thanks: LongText | None = None
    translations: JsonObject | None = None
    trigger: TriggerChoice | None = None
    delay_minutes: Annotated[int, Field(ge=0, le=60 * 24 * 30)] | None = None
    trigger_channels: list[ConversationChannel] | None = Field(default=None, max_length=8)
    relational_every_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    sampling_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    expiry_days: Annotated[int, Field(ge=1, le=365)] | None = None
    is_active: bool | None = None


class QuestionsIn(InSchema):
    questions: list[QuestionIn] = Field(min_length=1, max_length=50)


class SurveyOut(Schema):
    id: int
    kind: str
    name: str
    touchpoint: str
    default_language: str
    languages: list[str]
    title: str
    intro: str
    thanks: str
    translations: dict[str, Any]
    trigger: str
    delay_minutes: int
    trigger_channels: list[str]
    relational_every_days: int
    sampling_rate: float
    expiry_days: int
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SurveyDetailOut(SurveyOut):
    questions: list[QuestionOut]


class SettingsPatch(InSchema):
    suppression_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    reminder_after_hours: Annotated[int, Field(ge=0, le=24 * 60)] | None = None
    followup_due_hours: Annotated[int, Field(ge=1, le=24 * 90)] | None = None
    followup_owner_id: Id | None = None
    followup_rules: list[JsonObject] | None = Field(default=None, max_length=100)
    followup_on_negative_sentiment: bool | None = None


class SettingsOut(Schema):
    suppression_days: int
    reminder_after_hours: int
    followup_due_hours: int
    followup_owner_id: int | None
    followup_rules: list[dict[str, Any]]
    followup_inbox_id: int | None
    followup_on_negative_sentiment: bool


# --- Invitations ----------------------------------------------------------------------------


class InvitationIn(InSchema):
    customer_id: Id
    channel: InvitationChannel = "email"
    source_key: SourceKey | None = Field(
        default=None,
        description="Idempotency key: a second request with the same key returns the first "
        "invitation. Default: a new key each time.",
    )
    send_after: Timestamp | None = None
    conversation_id: Id | None = None
    order_id: Id | None = None
    context: JsonObject = Field(default_factory=dict)


class InvitationOut(Schema):
    id: int
    survey_id: int
    customer_id: int
    channel: str
    status: str
    skip_reason: str
    source_key: str
    language: str
    send_after: dt.datetime
    expires_at: dt.datetime | None
    sent_at: dt.datetime | None
    reminded_at: dt.datetime | None
    opened_at: dt.datetime | None
    answered_at: dt.datetime | None
    bounced_at: dt.datetime | None
    bounce_reason: str
    conversation_id: int | None
    order_id: int | None
    agent_id: int | None
    team_id: int | None
    context: dict[str, Any]
    created_at: dt.datetime


class InvitationCreatedOut(InvitationOut):
    url: str | None = Field(
        default=None, description="The survey link, for `link` invitations (shown once)."
    )


class LinkOut(Schema):
    url: str


class BounceIn(InSchema):
    reason: Reason = ""


# --- Responses ------------------------------------------------------------------------------


class ResponseOut(Schema):
    id: int
    survey_id: int
    invitation_id: int
    customer_id: int
    answers: dict[str, Any]
    completed: bool
    closed: str
    language: str
    nps_score: int | None
    csat_score: int | None
    ces_score: int | None
    comment: str
    sentiment: str
    touchpoint: str
    channel: str
    segment: str
    agent_id: int | None
    team_id: int | None
    created_at: dt.datetime
    submitted_at: dt.datetime | None


class ResponsePatch(InSchema):
    answers: JsonObject = Field(description="Answers to change, by question key.")


# --- Metrics --------------------------------------------------------------------------------


class NpsOut(Schema):
    n: int
    promoters: int
    passives: int
    detractors: int
    score: float | None
    ci_low: float | None = Field(description="95% confidence interval, lower bound.")
    ci_high: float | None


class CsatOut(Schema):
    n: int
    satisfied: int
    percent: float | None


class CesOut(Schema):
    n: int
    average: float | None


class RateOut(Schema):
    sent: int
    answered: int
    percent: float | None


class GroupOut(Schema):
    key: str
    label: str
    responses: int
    nps: NpsOut
    csat: CsatOut
    ces: CesOut
    response_rate: RateOut


class MetricsOut(Schema):
    by: str | None
    totals: GroupOut
    groups: list[GroupOut]


def group_out(result: metrics.GroupMetrics, label: str = "") -> dict[str, Any]:
    return {
        "key": result.key,
        "label": label,
        "responses": result.responses,
        "nps": result.nps,
        "csat": result.csat,
        "ces": result.ces,
        "response_rate": result.rate,
    }


class LoopOut(Schema):
    poor_answers: int
    followed_up: int
    contacted: int
    closed: int
    share_followed_up: float | None
    median_hours_to_first_contact: float | None
    median_hours_to_close: float | None
    resurveyed: int
    mean_resurvey_change: float | None


# --- Follow-ups -----------------------------------------------------------------------------


class FollowUpOut(Schema):
    id: int
    response_id: int
    customer_id: int
    reason: str
    status: str
    conversation_id: int | None
    owner_id: int | None
    due_at: dt.datetime
    first_contact_at: dt.datetime | None
    root_cause: str
    action_taken: str
    closing_message: str
    closed_at: dt.datetime | None
    notified_at: dt.datetime | None
    created_at: dt.datetime


class AssignIn(InSchema):
    owner_id: Id


class CloseLoopIn(InSchema):
    root_cause: RootCause
    action_taken: Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(no_nul)]
    message: Annotated[str, Field(max_length=10000), AfterValidator(no_nul)] = Field(
        default="",
        description='Told to the customer by email ("we heard you, here is what changed"); '
        "empty: nobody is emailed.",
    )
