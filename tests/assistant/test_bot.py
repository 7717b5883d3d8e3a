from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ascolto.assistant.bot import asks_for_person, confirmation
from ascolto.assistant.models import BotSession, MessageTriage
from ascolto.inbox.models import Conversation, Message
from tests.assistant.conftest import thread
from tests.inbox.factories import InboxFactory

pytest.importorskip("lingua")

PASSWORD = (
    "Reset your password",
    "To reset your password, open the login page and click Forgot password. "
    "We send you a link by email; it is valid for one hour.",
)
PASSWORD_IT = (
    "Reimpostare la password",
    "Per reimpostare la password apri la pagina di accesso e fai clic su Password dimenticata. "
    "Ti mandiamo un link per email, valido per un'ora.",
)
PASSWORD_HE = (
    "איפוס סיסמה",
    "כדי לאפס את הסיסמה פתחו את דף הכניסה ולחצו על שכחתי סיסמה. נשלח אליכם קישור בדואר.",
)


@pytest.fixture
def password_article(workspace: Any, actor: Any, make_article: Callable[..., Any]) -> Any:
    return make_article(workspace, actor, {"en": PASSWORD, "it": PASSWORD_IT, "he": PASSWORD_HE})


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a human?",
        "I want an agent please",
        "real person please",
        "Voglio parlare con un operatore",
        "c'è una persona?",
        "אני רוצה לדבר עם נציג",
        "אפשר בן אדם?",
        "Quiero un agente",
    ],
)
def test_requests_for_a_person_are_recognised_in_several_languages(text: str) -> None:
    assert asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    ["My personal data", "Agenda for tomorrow", "Please help me reset my password", "פרסונלי"],
)
def test_words_that_only_look_like_a_request_for_a_person_are_not_one(text: str) -> None:
    assert not asks_for_person(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("Sì, grazie", True),
        ("כן", True),
        ("no", False),
        ("לא", False),
        ("maybe later", None),
    ],
)
def test_confirmation_answers(text: str, expected: bool | None) -> None:
    assert confirmation(text) is expected


def test_the_bot_quotes_and_links_the_best_article(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
) -> None:
    enable_assistant(workspace)

    result = say(chat_inbox, customer, "Please help me reset my password")

    bot = [m for m in thread(result.conversation) if m.kind == Message.Kind.BOT]
    assert len(bot) == 1
    assert "> To reset your password" in bot[0].text
    assert (
        f"/help/{workspace.slug}/en/a/{password_article.translations.get(language='en').slug}/"
        in bot[0].text
    )
    assert "Did this solve it?" in bot[0].text
    session = BotSession.objects.get(conversation=result.conversation)
    assert session.state == BotSession.State.ANSWERED
    assert session.suggested == [password_article.pk]


def test_the_bot_answers_in_italian_from_the_italian_article(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
) -> None:
    enable_assistant(workspace)

    result = say(chat_inbox, customer, "Come posso reimpostare la password del mio account?")

    bot = result.conversation.messages.get(kind=Message.Kind.BOT)
    assert "Per reimpostare la password" in bot.text
    assert "/it/a/" in bot.text
    assert "Ha risolto? Rispondi sì o no." in bot.text


def test_without_an_article_there_is_no_answer_only_a_hand_off_with_a_summary(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
) -> None:
    enable_assistant(workspace)

    result = say(chat_inbox, customer, "Do you sell gift cards for the garden centre?")

    kinds = [m.kind for m in thread(result.conversation)]
    assert Message.Kind.BOT not in kinds
    note = result.conversation.messages.get(kind=Message.Kind.NOTE)
    assert "Reason: No article good enough" in note.text
    assert "Language: en" in note.text
    assert "Asked: Do you sell gift cards for the garden centre?" in note.text
    assert "Suggested: nothing" in note.text
    session = BotSession.objects.get(conversation=result.conversation)
    assert (session.state, session.handoff_reason) == ("handed_off", "low_confidence")


@pytest.mark.parametrize(
    "text",
    [
        "I need to reset my password, can I talk to a human?",
        "Devo reimpostare la password, voglio un operatore",
        "איפוס סיסמה, אני רוצה נציג",
    ],
)
def test_asking_for_a_person_hands_off_even_when_an_article_matches(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
    text: str,
) -> None:
    enable_assistant(workspace)

    result = say(chat_inbox, customer, text)

    assert not result.conversation.messages.filter(kind=Message.Kind.BOT).exists()
    session = BotSession.objects.get(conversation=result.conversation)
    assert session.handoff_reason == BotSession.Reason.ASKED_FOR_PERSON


def test_a_sensitive_keyword_hands_off(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
) -> None:
    enable_assistant(workspace, sensitive_keywords=["chargeback"])

    result = say(chat_inbox, customer, "I filed a chargeback, how do I reset my password?")

    session = BotSession.objects.get(conversation=result.conversation)
    assert session.handoff_reason == BotSession.Reason.SENSITIVE_TOPIC


def test_a_sensitive_intent_hands_off_and_the_summary_names_it(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
    train_models: Any,
) -> None:
    train_models()
    enable_assistant(workspace, sensitive_intents=["refund"], sensitive_keywords=[])

    result = say(chat_inbox, customer, "Please refund my order, I want my money back")

    session = BotSession.objects.get(conversation=result.conversation)
    assert session.handoff_reason == BotSession.Reason.SENSITIVE_TOPIC
    note = result.conversation.messages.get(kind=Message.Kind.NOTE)
    assert "Intent: refund (" in note.text
    assert "Sentiment: " in note.text
    assert "Sentiment: unknown" not in note.text


def test_negative_sentiment_hands_off(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
    train_models: Any,
) -> None:
    train_models()
    enable_assistant(workspace, negative_sentiment_floor=0.0)

    result = say(
        chat_inbox, customer, "Terrible awful service, I am furious: reset my password now!"
    )

    triage = MessageTriage.objects.get(message=result.message)
    assert triage.sentiment == "negative"
    session = BotSession.objects.get(conversation=result.conversation)
    assert session.handoff_reason == BotSession.Reason.NEGATIVE_SENTIMENT
    note = result.conversation.messages.get(kind=Message.Kind.NOTE)
    assert "Sentiment: negative" in note.text


def test_a_low_threshold_does_not_make_the_bot_invent_an_answer(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    enable_assistant: Any,
    say: Any,
) -> None:
    enable_assistant(workspace, confidence_threshold=0.0)

    result = say(chat_inbox, customer, "Please help me reset my password")

    assert not result.conversation.messages.filter(kind=Message.Kind.BOT).exists()
    assert BotSession.objects.get(conversation=result.conversation).handoff_reason == (
        "low_confidence"
    )


def test_yes_resolves_the_conversation_and_no_hands_it_off(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
) -> None:
    enable_assistant(workspace)
    first = say(chat_inbox, customer, "Please help me reset my password")
    say(chat_inbox, customer, "yes, thanks")

    conversation = Conversation.objects.get(pk=first.conversation.pk)
    session = BotSession.objects.get(conversation=conversation)
    assert conversation.status == Conversation.Status.RESOLVED
    assert (session.state, session.confirmed) == ("resolved", True)

    other = say(
        InboxFactory(workspace=workspace, channel="webchat"),
        customer,
        "Please help me reset my password",
    )
    say(other.conversation.inbox, customer, "no")
    session = BotSession.objects.get(conversation=other.conversation)
    assert session.handoff_reason == BotSession.Reason.NOT_SOLVED
    note = other.conversation.messages.get(kind=Message.Kind.NOTE)
    assert "Asked: Please help me reset my password" in note.text
    assert "Suggested: Reset your password" in note.text


def test_asking_for_a_person_after_an_answer_summarises_the_first_question(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
) -> None:
    enable_assistant(workspace)
    first = say(chat_inbox, customer, "Please help me reset my password")
    say(chat_inbox, customer, "I want to talk to a human")

    session = BotSession.objects.get(conversation=first.conversation)
    assert session.handoff_reason == BotSession.Reason.ASKED_FOR_PERSON
    note = first.conversation.messages.get(kind=Message.Kind.NOTE)
    assert "Asked: Please help me reset my password" in note.text
    assert "Suggested: Reset your password" in note.text


def test_after_a_hand_off_the_bot_stays_quiet(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
) -> None:
    enable_assistant(workspace)
    first = say(chat_inbox, customer, "I want a human")
    say(chat_inbox, customer, "Please help me reset my password")

    assert not first.conversation.messages.filter(kind=Message.Kind.BOT).exists()
    assert first.conversation.messages.filter(kind=Message.Kind.NOTE).count() == 1


@pytest.mark.parametrize("fields", [{"enabled": False}, {"channels": ["whatsapp", "sms"]}])
def test_the_bot_only_answers_where_it_is_enabled(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    password_article: Any,
    enable_assistant: Any,
    say: Any,
    fields: dict[str, Any],
) -> None:
    enable_assistant(workspace, **fields)

    result = say(chat_inbox, customer, "Please help me reset my password")

    assert not BotSession.objects.filter(conversation=result.conversation).exists()
    assert [m.kind for m in thread(result.conversation)] == [Message.Kind.INBOUND]
    assert MessageTriage.objects.filter(message=result.message).exists()


def test_articles_of_another_workspace_never_answer(
    workspace: Any,
    other_workspace: Any,
    agent: Any,
    make_article: Callable[..., Any],
    enable_assistant: Any,
    say: Any,
) -> None:
    from ascolto.core.actors import Actor
    from tests.customers.factories import CustomerFactory

    make_article(workspace, Actor.for_user(agent), {"en": PASSWORD})
    enable_assistant(other_workspace)
    inbox = InboxFactory(workspace=other_workspace, channel="webchat")

    result = say(
        inbox, CustomerFactory(workspace=other_workspace), "Please help me reset my password"
    )

    assert not result.conversation.messages.filter(kind=Message.Kind.BOT).exists()
    assert BotSession.objects.get(conversation=result.conversation).handoff_reason == (
        "low_confidence"
    )
