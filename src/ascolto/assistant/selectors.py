"""Assistant reads: settings, article titles, automation and deflection figures.

Definitions (docs/assistant.md):
- a bot conversation is one where the assistant took part (a BotSession exists) and that started
  in the period;
- automated: a bot conversation now resolved or closed, never handed off, with no agent reply;
- confirmed resolution: the customer answered yes to "did this solve it?";
- deflection confirmed: the visitor clicked "this solved it" on the articles offered (widget), or
  the customer clicked "This answered my question" under an article of an email acknowledgement;
- deflection assumed: not confirmed, and no conversation from that customer started within 24
  hours after the offer. Offers younger than 24 hours are pending; an anonymous offer (no
  customer known) that was not confirmed counts as assumed once 24 hours have passed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core import signing
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from ascolto.assistant.models import (
    AssistantSettings,
    BotSession,
    DeflectionOffer,
    MessageTriage,
    TriageRule,
)
from ascolto.assistant.nlp.language import detect_language
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.helpcenter.models import ArticleTranslation
from ascolto.inbox.models import Conversation, Message

# Below this a detected language is a guess too weak to answer in (short texts).
LANGUAGE_FLOOR = 0.5

ASSUMED_WINDOW = dt.timedelta(hours=24)
EMAIL_CONFIRM_SALT = "ascolto.assistant.email-deflection"


def assistant_settings(*, workspace: Workspace) -> AssistantSettings:
    """The workspace's settings; an unsaved default (assistant off) when none were saved."""
    found = AssistantSettings.objects.filter(workspace=workspace).first()
    return found or AssistantSettings(workspace=workspace)


def article_titles(*, workspace_id: int, article_ids: list[int], language: str) -> list[str]:
    """Titles of these articles in `language`, in the order given (missing ones left out)."""
    rows = dict(
        ArticleTranslation.objects.filter(
            workspace_id=workspace_id, article_id__in=article_ids, language=language
        ).values_list("article_id", "title")
    )
    return [rows[i] for i in dict.fromkeys(article_ids) if i in rows]


@dataclass(frozen=True)
class EmailConfirmation:
    """What a "This answered my question" link names."""

    offer: DeflectionOffer
    article_id: int
    title: str


def email_confirmation(*, token: str) -> EmailConfirmation:
    """Read a signed link of an email acknowledgement. A forged or altered token, one signed
    for anything else, or one naming an article the email did not suggest is refused."""
    try:
        data = signing.Signer(salt=EMAIL_CONFIRM_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        raise ValidationFailed("This link is not valid.") from None
    if not (
        isinstance(data, dict) and all(isinstance(data.get(key), int) for key in ("w", "o", "a"))
    ):
        raise ValidationFailed("This link is not valid.")
    offer = (
        DeflectionOffer.objects.select_related("workspace")
        .filter(workspace_id=data["w"], pk=data["o"], source=DeflectionOffer.Source.EMAIL)
        .first()
    )
    if offer is None:
        raise NotFound("This suggestion no longer exists.")
    if data["a"] not in offer.article_ids:
        raise ValidationFailed("This link is not valid.")
    titles = article_titles(
        workspace_id=offer.workspace_id, article_ids=[data["a"]], language=offer.language
    )
    return EmailConfirmation(offer, data["a"], titles[0] if titles else "")


def triage_rules(*, workspace: Workspace) -> list[TriageRule]:
    return list(TriageRule.objects.filter(workspace=workspace).order_by("intent"))


@dataclass(frozen=True)
class AssistantMetrics:
    conversations: int
    automated: int
    confirmed: int
    handed_off: int
    handoffs_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def automation_rate(self) -> float | None:
        return self.automated / self.conversations if self.conversations else None


def assistant_metrics(
    *, workspace: Workspace, start: dt.datetime, end: dt.datetime
) -> AssistantMetrics:
    """Figures over bot conversations that started in [start, end), counted by the database
    (two aggregate queries, whatever the number of sessions)."""
    sessions = BotSession.objects.filter(
        workspace=workspace,
        conversation__created_at__gte=start,
        conversation__created_at__lt=end,
    )
    done = (Conversation.Status.RESOLVED, Conversation.Status.CLOSED)
    handed_off = Q(state=BotSession.State.HANDED_OFF)
    totals = sessions.aggregate(
        conversations=Count("id"),
        automated=Count(
            "id",
            filter=~handed_off
            & Q(conversation__status__in=done, conversation__last_agent_message_at__isnull=True),
        ),
        confirmed=Count("id", filter=Q(confirmed=True)),
    )
    reasons = {
        reason: n
        for reason, n in sessions.filter(handed_off)
        .values_list("handoff_reason")
        .annotate(n=Count("id"))
        .order_by()
    }
    return AssistantMetrics(
        conversations=totals["conversations"],
        automated=totals["automated"],
        confirmed=totals["confirmed"],
        handed_off=sum(reasons.values()),
        handoffs_by_reason=dict(sorted(reasons.items())),
    )


@dataclass(frozen=True)
class DeflectionCounts:
    offers: int = 0
    confirmed: int = 0
    assumed: int = 0
    pending: int = 0
    followed_by_conversation: int = 0


@dataclass(frozen=True)
class DeflectionReport:
    offers: int
    confirmed: int
    assumed: int
    pending: int
    followed_by_conversation: int
    # The same counts per source ("widget", "email"); every source is present.
    by_source: dict[str, DeflectionCounts] = field(default_factory=dict)


def _outcome(now: dt.datetime) -> Case:
    """Each offer's outcome as a database expression (the definitions in the module docstring).
    The conversation an email acknowledgement answers started before its offer: not counted."""
    followed = Exists(
        Conversation.objects.filter(
            workspace_id=OuterRef("workspace_id"),
            customer_id=OuterRef("customer_id"),
            created_at__gte=OuterRef("created_at"),
            created_at__lte=ExpressionWrapper(
                OuterRef("created_at") + ASSUMED_WINDOW, output_field=DateTimeField()
            ),
        )
    )
    return Case(
        When(confirmed_at__isnull=False, then=Value("confirmed")),
        When(Q(customer_id__isnull=False) & followed, then=Value("followed_by_conversation")),
        When(created_at__gt=now - ASSUMED_WINDOW, then=Value("pending")),
        default=Value("assumed"),
        output_field=CharField(),
    )


def deflection_report(
    *, workspace: Workspace, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None
) -> DeflectionReport:
    """Deflection over offers made in [start, end), counted both ways (see module docstring),
    in all and per source (web chat pre-chat, email acknowledgement), by the database in one
    query."""
    now = now or timezone.now()
    rows = (
        DeflectionOffer.objects.filter(
            workspace=workspace, created_at__gte=start, created_at__lt=end
        )
        .annotate(outcome=_outcome(now))
        .values_list("source", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    totals: Counter[str] = Counter()
    per_source: dict[str, Counter[str]] = {source: Counter() for source in DeflectionOffer.Source}
    for source, outcome, n in rows:
        totals[outcome] += n
        per_source.setdefault(source, Counter())[outcome] += n
        per_source[source]["offers"] += n
    return DeflectionReport(
        offers=sum(totals.values()),
        confirmed=totals["confirmed"],
        assumed=totals["assumed"],
        pending=totals["pending"],
        followed_by_conversation=totals["followed_by_conversation"],
        by_source={
            str(source): DeflectionCounts(**counts) for source, counts in per_source.items()
        },
    )


def assistant_counts_by_day(
    *,
    workspace: Workspace,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    zone: dt.tzinfo,
) -> dict[dt.date, Counter[str]]:
    """Per day (in `zone`) of [start, end): the bot conversations created that day and their
    confirmed resolutions ("bot_conversations", "bot_confirmed"; `assistant_metrics`), and
    the deflection offers made that day by outcome ("offers", "confirmed", "assumed",
    "pending", "followed_by_conversation"; `deflection_report`). Two grouped queries; days
    without any are absent. Over any days, the sums equal those two selectors' figures.

    A session is created once its conversation exists, never before it: bounding the sessions'
    own creation time by `start` too lets their index find the few of a recent day without
    changing which sessions count."""
    days: dict[dt.date, Counter[str]] = defaultdict(Counter)
    sessions = (
        BotSession.objects.filter(
            workspace=workspace,
            created_at__gte=start,
            conversation__created_at__gte=start,
            conversation__created_at__lt=end,
        )
        .annotate(day=TruncDate("conversation__created_at", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("id"), confirmed=Count("id", filter=Q(confirmed=True)))
        .order_by()
    )
    for day, n, confirmed in sessions:
        days[day]["bot_conversations"] += n
        days[day]["bot_confirmed"] += confirmed
    offers = (
        DeflectionOffer.objects.filter(
            workspace=workspace, created_at__gte=start, created_at__lt=end
        )
        .annotate(day=TruncDate("created_at", tzinfo=zone), outcome=_outcome(now))
        .values_list("day", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    for day, outcome, n in offers:
        days[day]["offers"] += n
        days[day][outcome] += n
    return dict(days)


def labelled_history(
    *, workspace: Workspace, label: str = "tag", limit: int = 50_000
) -> tuple[list[str], list[str]]:
    """Training examples from the workspace's past conversations: the first customer message
    and, as its label, the conversation's tag (conversations with exactly one tag) or its team
    (`label="team"`). Newest conversations first, at most `limit`."""
    if label not in ("tag", "team"):
        raise ValueError("label is 'tag' or 'team'.")
    conversations = Conversation.objects.filter(workspace=workspace).order_by("-created_at")
    if label == "team":
        labels = dict(
            conversations.filter(team__isnull=False).values_list("pk", "team__name")[:limit]
        )
    else:
        tagged: dict[int, list[str]] = {}
        for conversation_id, name in conversations.filter(tags__isnull=False).values_list(
            "pk", "tags__name"
        )[: limit * 4]:
            tagged.setdefault(conversation_id, []).append(name)
        labels = {pk: names[0] for pk, names in tagged.items() if len(names) == 1}
    first_text: dict[int, str] = {}
    for conversation_id, text in (
        Message.objects.filter(
            workspace=workspace,
            conversation_id__in=list(labels),
            kind=Message.Kind.INBOUND,
        )
        .order_by("conversation_id", "created_at", "id")
        .values_list("conversation_id", "text")
    ):
        if text.strip():
            first_text.setdefault(conversation_id, text)
    ids = sorted(first_text)
    return [first_text[i] for i in ids], [labels[i] for i in ids]


def message_language(*, message: Message) -> str:
    """The language a customer wrote `message` in: the triage's when stored, else detected
    now; "" when unknown or too uncertain."""
    stored = (
        MessageTriage.objects.filter(workspace_id=message.workspace_id, message=message)
        .values_list("language", "language_confidence")
        .first()
    )
    if stored is not None and stored[0] and stored[1] >= LANGUAGE_FLOOR:
        return str(stored[0])
    subject = message.conversation.subject if message.conversation_id else ""
    guess = detect_language(f"{subject}\n{message.text}".strip())
    return guess.code if guess.known and guess.confidence >= LANGUAGE_FLOOR else ""
