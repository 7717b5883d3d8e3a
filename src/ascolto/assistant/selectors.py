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
from collections import Counter
from dataclasses import dataclass, field

from django.core import signing
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
    """Figures over bot conversations that started in [start, end)."""
    sessions = list(
        BotSession.objects.filter(
            workspace=workspace,
            conversation__created_at__gte=start,
            conversation__created_at__lt=end,
        ).values_list(
            "state",
            "handoff_reason",
            "confirmed",
            "conversation__status",
            "conversation__last_agent_message_at",
        )
    )
    done = (Conversation.Status.RESOLVED, Conversation.Status.CLOSED)
    automated = sum(
        1
        for state, _reason, _confirmed, status, agent_at in sessions
        if state != BotSession.State.HANDED_OFF and status in done and agent_at is None
    )
    reasons = Counter(
        reason for state, reason, *_ in sessions if state == BotSession.State.HANDED_OFF
    )
    return AssistantMetrics(
        conversations=len(sessions),
        automated=automated,
        confirmed=sum(1 for _s, _r, confirmed, *_ in sessions if confirmed),
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


def _outcome(
    offer: DeflectionOffer, started: dict[int, list[dt.datetime]], now: dt.datetime
) -> str:
    if offer.confirmed_at is not None:
        return "confirmed"
    limit = offer.created_at + ASSUMED_WINDOW
    times = started.get(offer.customer_id, []) if offer.customer_id is not None else []
    # The conversation an email acknowledgement answers started before its offer: not counted.
    if any(offer.created_at <= t <= limit for t in times):
        return "followed_by_conversation"
    if now < limit:
        return "pending"
    return "assumed"


def deflection_report(
    *, workspace: Workspace, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None
) -> DeflectionReport:
    """Deflection over offers made in [start, end), counted both ways (see module docstring),
    in all and per source (web chat pre-chat, email acknowledgement)."""
    now = now or timezone.now()
    offers = list(
        DeflectionOffer.objects.filter(
            workspace=workspace, created_at__gte=start, created_at__lt=end
        )
    )
    customer_ids = {o.customer_id for o in offers if o.customer_id is not None}
    started: dict[int, list[dt.datetime]] = {}
    if customer_ids:
        rows = Conversation.objects.filter(
            workspace=workspace,
            customer_id__in=customer_ids,
            created_at__gte=min(o.created_at for o in offers),
            created_at__lte=max(o.created_at for o in offers) + ASSUMED_WINDOW,
        ).values_list("customer_id", "created_at")
        for customer_id, created in rows:
            started.setdefault(customer_id, []).append(created)
    totals: Counter[str] = Counter()
    per_source: dict[str, Counter[str]] = {source: Counter() for source in DeflectionOffer.Source}
    for offer in offers:
        outcome = _outcome(offer, started, now)
        totals[outcome] += 1
        per_source.setdefault(offer.source, Counter())[outcome] += 1
        per_source[offer.source]["offers"] += 1
    return DeflectionReport(
        offers=len(offers),
        confirmed=totals["confirmed"],
        assumed=totals["assumed"],
        pending=totals["pending"],
        followed_by_conversation=totals["followed_by_conversation"],
        by_source={
            str(source): DeflectionCounts(**counts) for source, counts in per_source.items()
        },
    )


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
