"""Assistant writes: triage of inbound messages, the bot's answer or hand-off, deflection.

Every function runs inside the caller's transaction (the outbox handler's savepoint or a view's
`atomic`) and writes through the inbox services; realtime pushes happen on commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import cast

from django.core import signing
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ascolto.accounts.models import User
from ascolto.analytics.experiments.services import experiment_payload
from ascolto.assistant import generative, handoff, selectors
from ascolto.assistant.bot import Decision, Policy, Signals, confirmation, decide
from ascolto.assistant.models import (
    AssistantSettings,
    BotSession,
    DeflectionOffer,
    MessageTriage,
    TriageRule,
)
from ascolto.assistant.nlp.embedding import one_blas_thread
from ascolto.assistant.nlp.triage import Triage
from ascolto.assistant.triage_rules import triage_for
from ascolto.core import links
from ascolto.core.actors import Actor
from ascolto.core.bulkinsert import insert_rows
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.models import Customer
from ascolto.helpcenter.models import Language
from ascolto.helpcenter.selectors import SearchResult, search_articles, suggest_articles
from ascolto.inbox import events as inbox_events
from ascolto.inbox import services as inbox
from ascolto.inbox.models import Conversation, Message

logger = logging.getLogger(__name__)

ASSISTANT = Actor.system("assistant")
CUSTOMER_VIA_EMAIL = Actor.system("customer")
TITLE_IN_REASON = 200  # the timeline's reason holds 300 characters
HELP_LANGUAGES = frozenset(Language.values)


def _help_language(language: str, workspace: Workspace) -> str:
    if language in HELP_LANGUAGES:
        return language
    fallback = workspace.default_locale
    return fallback if fallback in HELP_LANGUAGES else "en"


# ---------------------------------------------------------------- triage


def triage_messages(*, messages: list[Message]) -> dict[int, MessageTriage]:
    """Detect language / intent / sentiment of inbound messages, store it, apply the rules.
    Idempotent: a message already triaged keeps its stored result. For the outbox batch of
    `inbox.message.received`: the stored triages, the workspaces' models and their rules are
    read once, the new triages written in one insert. Returns the triage of each message id.
    Each message must have its conversation (its workspace's default language at least)
    loaded."""
    triages = {t.message_id: t for t in MessageTriage.objects.filter(message__in=messages)}
    new: list[MessageTriage] = []
    models: dict[int, Triage] = {}
    # One BLAS limit for the batch: each message's run then enters it for free (setting it
    # through every BLAS library costs tens of µs, as much as a short message's models).
    with one_blas_thread():
        for message in messages:
            if message.pk in triages:
                continue
            workspace = message.conversation.workspace
            if workspace.pk not in models:
                models[workspace.pk] = triage_for(
                    workspace.pk, default_language=workspace.default_locale
                )
            result = models[workspace.pk].run(message.text)
            triage = MessageTriage(
                workspace_id=message.workspace_id,
                message=message,
                language=result.language.code,
                language_confidence=result.language.confidence,
                intent=result.intent.label if result.intent else "",
                intent_confidence=result.intent.confidence if result.intent else None,
                sentiment=result.sentiment.label if result.sentiment else "",
                sentiment_confidence=result.sentiment.confidence if result.sentiment else None,
            )
            new.append(triage)
            triages[message.pk] = triage
    insert_rows(MessageTriage, new)
    # Only an intent with an active rule in its workspace can change the conversation.
    ruled = set(
        TriageRule.objects.filter(
            workspace_id__in={t.workspace_id for t in new if t.intent}, is_active=True
        ).values_list("workspace_id", "intent")
    )
    conversation_of = {message.pk: message.conversation_id for message in messages}
    for triage in new:
        if (triage.workspace_id, triage.intent) not in ruled:
            continue
        # Whole, as the rule's changes save it (the batch may have loaded a few fields).
        conversation = Conversation.objects.get(
            workspace_id=triage.workspace_id, pk=conversation_of[triage.message_id]
        )
        rule = rule_apply(triage=triage, conversation=conversation)
        if rule is not None:
            triage.rule = rule
            triage.save(update_fields=["rule", "updated_at"])
    return triages


def rule_apply(*, triage: MessageTriage, conversation: Conversation) -> TriageRule | None:
    """Apply the active rule for the detected intent when the intent's confidence reaches the
    rule's floor; below it nothing changes. Returns the rule applied."""
    if not triage.intent or triage.intent_confidence is None:
        return None
    rule = (
        TriageRule.objects.filter(
            workspace_id=conversation.workspace_id, intent=triage.intent, is_active=True
        )
        .select_related("team")
        .first()
    )
    if rule is None or triage.intent_confidence < rule.min_confidence:
        return None
    if rule.add_tags:
        current = list(conversation.tags.values_list("name", flat=True))
        inbox.conversation_set_tags(
            conversation=conversation, names=[*current, *rule.add_tags], actor=ASSISTANT
        )
    if rule.team is not None and conversation.team_id != rule.team.pk:
        conversation = inbox.conversation_assign(
            conversation=conversation,
            actor=ASSISTANT,
            assignee=conversation.assignee,
            team=rule.team,
            reason="triage rule",
        )
    if rule.priority is not None:
        inbox.conversation_set_priority(
            conversation=conversation, priority=rule.priority, actor=ASSISTANT, reason="triage"
        )
    return rule


def triage_rule_save(
    *,
    workspace: Workspace,
    intent: str,
    min_confidence: float,
    add_tags: list[str] | None = None,
    team_id: int | None = None,
    priority: int | None = None,
) -> TriageRule:
    """Create or replace the rule for an intent."""
    if not intent.strip():
        raise ValidationFailed("A rule needs an intent.", field_errors={"intent": ["Required."]})
    if not 0.0 <= min_confidence <= 1.0:
        raise ValidationFailed(
            "The confidence floor is between 0 and 1.",
            field_errors={"min_confidence": ["Between 0 and 1."]},
        )
    if priority is not None and priority not in Conversation.Priority.values:
        raise ValidationFailed("Unknown priority.", field_errors={"priority": ["0 to 3."]})
    if team_id is not None and not workspace_team_exists(workspace, team_id):
        raise ValidationFailed("Unknown team.", field_errors={"team_id": ["Unknown team."]})
    rule, _created = TriageRule.objects.update_or_create(
        workspace=workspace,
        intent=intent.strip(),
        defaults={
            "min_confidence": min_confidence,
            "add_tags": [t.strip().lower() for t in add_tags or [] if t.strip()],
            "team_id": team_id,
            "priority": priority,
            "is_active": True,
        },
    )
    return rule


def workspace_team_exists(workspace: Workspace, team_id: int) -> bool:
    from ascolto.accounts.models import Team

    return Team.objects.filter(workspace=workspace, pk=team_id).exists()


# ---------------------------------------------------------------- the bot


@dataclass(frozen=True)
class BotOutcome:
    action: str  # "answered", "resolved", "handed_off", "skipped"
    message: Message | None = None
    reason: str = ""


def _signals(triage: MessageTriage, language: str) -> Signals:
    return Signals(
        language=language,
        intent=triage.intent or None,
        intent_confidence=triage.intent_confidence,
        sentiment=triage.sentiment or None,
        sentiment_confidence=triage.sentiment_confidence,
    )


def _policy(config: AssistantSettings) -> Policy:
    return Policy(
        threshold=config.confidence_threshold,
        sensitive_intents=frozenset(str(i) for i in config.sensitive_intents or []),
        sensitive_keywords=tuple(str(k) for k in config.sensitive_keywords or []),
        negative_floor=config.negative_sentiment_floor,
    )


def _article_url(workspace: Workspace, language: str, slug: str) -> str:
    """The article's absolute link: answers and emails are read outside the web page."""
    return links.absolute_reverse("helpcenter:article", ws=workspace.slug, lang=language, slug=slug)


def answer_text(*, workspace: Workspace, language: str, result: SearchResult) -> str:
    """The reply: the best passage quoted, the article linked, and the confirmation question."""
    with translation.override(language):
        return "\n\n".join(
            [
                "> " + result.snippet,
                _("%(title)s: %(url)s")
                % {"title": result.title, "url": _article_url(workspace, language, result.slug)},
                _("Did this solve it? Reply yes or no."),
            ]
        )


def _generated_text(
    *,
    config: AssistantSettings,
    workspace: Workspace,
    language: str,
    question: str,
    passages: list[SearchResult],
) -> str | None:
    """The endpoint's grounded answer with links to the articles it cited, or None."""
    generated = generative.generate(
        base_url=config.generative_base_url,
        model=config.generative_model,
        api_key=config.generative_api_key,
        question=question,
        passages=passages,
    )
    if generated is None:
        return None
    with translation.override(language):
        links = [
            _("%(title)s: %(url)s")
            % {"title": r.title, "url": _article_url(workspace, language, r.slug)}
            for r in generated.cited
        ]
        return "\n\n".join(
            [generated.text, "\n".join(links), _("Did this solve it? Reply yes or no.")]
        )


def _bot_reply(conversation: Conversation, text: str) -> Message:
    # message_send reads no author for bot messages; the assistant is not a member.
    return inbox.message_send(
        conversation=conversation,
        author=cast(User, None),
        actor=ASSISTANT,
        text=text,
        kind=Message.Kind.BOT,
    )


def _note(conversation: Conversation, text: str) -> Message:
    """An internal note written by the assistant (inbox.note_add needs a member as author)."""
    note = Message.objects.create(
        workspace_id=conversation.workspace_id,
        conversation=conversation,
        inbox_id=conversation.inbox_id,
        kind=Message.Kind.NOTE,
        text=text,
        delivery_status=Message.Delivery.SENT,
        metadata={"assistant": "handoff"},
    )
    inbox.search_text_add(message=note)
    Conversation.objects.filter(pk=conversation.pk).update(message_count=F("message_count") + 1)
    inbox_events.publish_message(note, conversation)
    return note


def _hand_off(
    *,
    session: BotSession,
    conversation: Conversation,
    signals: Signals,
    asked: str,
    reason: str,
) -> BotOutcome:
    titles = selectors.article_titles(
        workspace_id=conversation.workspace_id,
        article_ids=[int(i) for i in session.suggested],
        language=signals.language,
    )
    with translation.override(conversation.workspace.default_locale):
        text = handoff.summary_text(signals=signals, asked=asked, suggested=titles, reason=reason)
    note = _note(conversation, text)
    session.state = BotSession.State.HANDED_OFF
    session.handoff_reason = reason
    session.handed_off_at = timezone.now()
    session.save(update_fields=["state", "handoff_reason", "handed_off_at", "updated_at"])
    return BotOutcome("handed_off", note, reason)


def bot_handle_message(*, message: Message, triage: MessageTriage) -> BotOutcome:
    """The assistant's turn after an inbound message. It acts only where the workspace enabled
    it for the conversation's channel, no agent has replied yet and it has not handed off.
    Idempotent per message."""
    conversation = Conversation.objects.select_related("workspace").get(pk=message.conversation_id)
    workspace = conversation.workspace
    config = selectors.assistant_settings(workspace=workspace)
    if (
        not config.enabled
        or conversation.channel not in (config.channels or [])
        or conversation.last_agent_message_at is not None
    ):
        return BotOutcome("skipped")
    session, _created = BotSession.objects.select_for_update().get_or_create(
        conversation=conversation, defaults={"workspace": workspace}
    )
    if session.state == BotSession.State.HANDED_OFF or (
        session.last_message_id is not None and session.last_message_id >= message.pk
    ):
        return BotOutcome("skipped")
    session.last_message_id = message.pk
    session.save(update_fields=["last_message_id", "updated_at"])
    language = _help_language(triage.language, workspace)
    signals = _signals(triage, language)

    if session.state == BotSession.State.ANSWERED:
        confirmed = confirmation(message.text)
        if confirmed is True:
            session.state = BotSession.State.RESOLVED
            session.confirmed = True
            session.resolved_at = timezone.now()
            session.save(update_fields=["state", "confirmed", "resolved_at", "updated_at"])
            inbox.conversation_set_status(
                conversation=conversation,
                status=Conversation.Status.RESOLVED,
                actor=ASSISTANT,
                reason="the customer confirmed the assistant's answer",
            )
            return BotOutcome("resolved")
        if confirmed is False:
            return _hand_off(
                session=session,
                conversation=conversation,
                signals=signals,
                asked=_first_question(conversation),
                reason=BotSession.Reason.NOT_SOLVED,
            )

    threshold = _threshold(conversation, config)
    language, results = _search(workspace, conversation, language, message.text, threshold)
    signals = _signals(triage, language)
    decision: Decision = decide(
        text=message.text,
        signals=signals,
        policy=replace(_policy(config), threshold=threshold),
        results=results,
    )
    if decision.answer is None:
        assert decision.handoff is not None
        return _hand_off(
            session=session,
            conversation=conversation,
            signals=signals,
            # After an answer ("I want a human"), what the agent needs is the first question.
            asked=message.text if session.answers == 0 else _first_question(conversation),
            reason=decision.handoff,
        )
    text = None
    if config.generative_enabled:
        text = _generated_text(
            config=config,
            workspace=workspace,
            language=language,
            question=message.text,
            passages=[r for r in decision.candidates if r.score >= threshold],
        )
    reply = _bot_reply(
        conversation,
        text or answer_text(workspace=workspace, language=language, result=decision.answer),
    )
    session.state = BotSession.State.ANSWERED
    session.answers += 1
    session.suggested = [*session.suggested, decision.answer.article_id]
    session.save(update_fields=["state", "answers", "suggested", "updated_at"])
    return BotOutcome("answered", reply)


def _threshold(conversation: Conversation, config: AssistantSettings) -> float:
    """The confidence threshold for this conversation: the workspace's, or the one its variant
    of a running experiment on the threshold gives (assigned at this first search)."""
    payload = experiment_payload(
        workspace_id=conversation.workspace_id,
        lever="assistant_threshold",
        conversation_id=conversation.pk,
        customer_id=conversation.customer_id,
    )
    value = (payload or {}).get("confidence_threshold")
    return float(value) if isinstance(value, int | float) else config.confidence_threshold


def _search(
    workspace: Workspace, conversation: Conversation, detected: str, text: str, threshold: float
) -> tuple[str, list[SearchResult]]:
    """Search the message's detected language; when nothing there passes the threshold, the
    conversation's and then the workspace's language (short messages are often misdetected).
    Returns the first language whose best article passes, else the best-scoring one."""
    candidates = [detected, conversation.language, workspace.default_locale]
    best_language, best_results = detected, []
    best_score = -1.0
    for language in dict.fromkeys(c for c in candidates if c in HELP_LANGUAGES):
        results = search_articles(workspace=workspace, language=language, query=text, limit=3)
        score = max((r.score for r in results), default=-1.0)
        if score >= threshold:
            return language, results
        if score > best_score:
            best_language, best_results, best_score = language, results, score
    return best_language, best_results


def _first_question(conversation: Conversation) -> str:
    first = (
        Message.objects.filter(conversation=conversation, kind=Message.Kind.INBOUND)
        .order_by("created_at", "id")
        .values_list("text", flat=True)
        .first()
    )
    return first or ""


# ---------------------------------------------------------------- deflection


def deflection_offer(
    *,
    workspace: Workspace,
    source: str,
    language: str,
    text: str,
    customer: Customer | None = None,
    visitor_key: str = "",
) -> tuple[DeflectionOffer | None, list[SearchResult]]:
    """Articles to show before a conversation starts; recorded only when there is one."""
    if source not in DeflectionOffer.Source.values:
        raise ValidationFailed(f"Unknown deflection source {source!r}.")
    if customer is not None and customer.workspace_id != workspace.pk:
        raise ValidationFailed("The customer belongs to another workspace.")
    language = _help_language(language, workspace)
    results = suggest_articles(workspace=workspace, language=language, text=text)
    if not results:
        return None, []
    offer = DeflectionOffer.objects.create(
        workspace=workspace,
        source=source,
        customer=customer,
        visitor_key=visitor_key[:100],
        language=language,
        query=text[:2000],
        article_ids=[r.article_id for r in results],
    )
    return offer, results


def deflection_confirm(*, workspace: Workspace, offer_id: int) -> DeflectionOffer:
    """The visitor clicked "this solved it". Confirming twice keeps the first time."""
    offer = DeflectionOffer.objects.filter(workspace=workspace, pk=offer_id).first()
    if offer is None:
        raise NotFound("No such deflection offer.")
    if offer.confirmed_at is None:
        offer.confirmed_at = timezone.now()
        offer.save(update_fields=["confirmed_at", "updated_at"])
    return offer


def email_acknowledgement(
    *,
    workspace: Workspace,
    customer: Customer,
    subject: str,
    text: str,
    language: str,
    received: str = "",
    conversation: Conversation | None = None,
) -> str:
    """The body of the automatic reply to a new email: `received` (the inbox's own
    acknowledgement; blank: ours, translated), plus the best matching articles (recorded as a
    deflection offer). With the `conversation` the email opened, each article also gets its
    "This answered my question" link (`deflection_confirm_email`). The email connector sends
    it, once per conversation: each call records an offer when there are articles."""
    if conversation is not None and conversation.workspace_id != workspace.pk:
        raise ValidationFailed("The conversation belongs to another workspace.")
    offer, results = deflection_offer(
        workspace=workspace,
        source=DeflectionOffer.Source.EMAIL,
        language=language,
        text=f"{subject}\n{text}".strip(),
        customer=customer,
    )
    if offer is not None and conversation is not None:
        offer.conversation = conversation
        offer.save(update_fields=["conversation", "updated_at"])
    help_language = offer.language if offer is not None else _help_language(language, workspace)
    with translation.override(help_language):
        lines = [received.strip() or _("We received your message and will answer soon.")]
        if results:
            lines.append(_("These articles may already answer your question:"))
            for r in results:
                lines.append(f"- {r.title}: {_article_url(workspace, help_language, r.slug)}")
                if offer is not None and offer.conversation_id is not None:
                    lines.append(
                        "  "
                        + _("This answered my question: %(url)s")
                        % {"url": email_confirm_url(offer=offer, article_id=r.article_id)}
                    )
    return "\n".join(lines)


def email_confirm_url(*, offer: DeflectionOffer, article_id: int) -> str:
    """The signed link of "This answered my question" for one article of an email offer."""
    token = signing.Signer(salt=selectors.EMAIL_CONFIRM_SALT).sign_object(
        {"w": offer.workspace_id, "o": offer.pk, "a": article_id}
    )
    return links.absolute_reverse("assistant_public:email_answered", token)


def deflection_confirm_email(
    *, workspace: Workspace, offer_id: int, article_id: int
) -> tuple[DeflectionOffer, bool]:
    """The customer clicked "This answered my question" under one article of an email
    acknowledgement: the offer is confirmed for that article and the conversation it
    acknowledged is resolved, with the article named on its timeline. Returns the offer and
    whether this call confirmed it; a second click (any article) changes nothing."""
    offer = (
        DeflectionOffer.objects.select_for_update()
        .filter(workspace=workspace, pk=offer_id, source=DeflectionOffer.Source.EMAIL)
        .first()
    )
    if offer is None:
        raise NotFound("No such suggestion.")
    if article_id not in offer.article_ids:
        raise ValidationFailed("This article was not suggested in that email.")
    if offer.confirmed_at is not None:
        return offer, False
    offer.confirmed_at = timezone.now()
    offer.confirmed_article_id = article_id
    offer.save(update_fields=["confirmed_at", "confirmed_article_id", "updated_at"])
    conversation = offer.conversation
    if conversation is not None and conversation.status not in (
        Conversation.Status.RESOLVED,
        Conversation.Status.CLOSED,
    ):
        titles = selectors.article_titles(
            workspace_id=workspace.pk, article_ids=[article_id], language=offer.language
        )
        with translation.override(workspace.default_locale or "en"):
            reason = _("resolved by the customer with the article “%(title)s”") % {
                "title": (titles[0] if titles else f"#{article_id}")[:TITLE_IN_REASON]
            }
        inbox.conversation_set_status(
            conversation=conversation,
            status=Conversation.Status.RESOLVED,
            actor=CUSTOMER_VIA_EMAIL,
            reason=reason,
        )
    return offer, True
