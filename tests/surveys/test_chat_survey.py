"""The CSAT question at the end of a web chat: the widget's inline answer and the survey link
are the same invitation, recorded once; no email follows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from ascolto.connectors.webchat import handlers as webchat_handlers
from ascolto.core.actors import Actor
from ascolto.customers import services as customer_services
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation
from ascolto.surveys import services
from ascolto.surveys.models import Invitation, Response, Survey
from ascolto.surveys.services import chat
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory
from tests.surveys.factories import SYSTEM, dispatch_pending, make_survey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _public_url(settings: Any) -> None:
    settings.ASCOLTO_PUBLIC_URL = "https://cx.example.com"


def resolved_chat(workspace: Any, *, consent: bool = True) -> Conversation:
    inbox = InboxFactory(workspace=workspace, channel="webchat")
    customer = CustomerFactory(workspace=workspace, locale="en")
    if consent:
        customer_services.consent_set(
            customer=customer, purpose="surveys", channel="any", granted=True, actor=SYSTEM
        )
    with transaction.atomic():
        conversation = inbox_services.message_receive(
            inbox=inbox, customer=customer, text="Is my order on its way?"
        ).conversation
        inbox_services.conversation_set_status(
            conversation=conversation, status="resolved", actor=Actor.system("agent")
        )
    return conversation


def csat(workspace: Any, **fields: Any) -> Survey:
    fields.setdefault("trigger", Survey.Trigger.CONVERSATION_RESOLVED)
    return make_survey(workspace, "csat", delay_minutes=60, **fields)


def test_the_widget_answer_and_the_link_are_one_invitation_recorded_once(workspace):
    survey = csat(workspace)
    webchat_handlers.set_survey_link(chat.chat_survey_url)
    conversation = resolved_chat(workspace)
    dispatch_pending()  # the resolution trigger and the end of the chat, in whatever order

    url = chat.chat_survey_url(conversation)
    path = url.removeprefix("https://cx.example.com")
    browser = Client()
    browser.get(f"{path}answer/4/")
    browser.get(f"{path}answer/4/")  # the visitor tapped twice
    browser.post(path, {"q": "why", "why": "Quick and kind."})
    late = browser.get(f"{path}answer/1/")  # an old tab, after the survey was sent
    services.intake_drain()

    invitation = Invitation.objects.get(survey=survey)
    assert invitation.source_key == f"conversation:{conversation.pk}"
    assert invitation.channel == "link"
    assert invitation.status == "sent"
    response = Response.objects.get()
    assert response.invitation_id == invitation.pk
    assert response.csat_score == 4
    assert response.completed
    assert response.comment == "Quick and kind."
    assert "already answered" in late.content.decode()
    # Asked in the chat, so no email later.
    assert invitation.pk not in list(services.due_invitation_ids())


def test_the_end_of_chat_frame_carries_the_link(workspace, monkeypatch):
    csat(workspace)
    webchat_handlers.set_survey_link(chat.chat_survey_url)
    ended: list[str] = []
    monkeypatch.setattr(
        webchat_handlers.services,
        "chat_ended",
        lambda *, conversation, survey_url: ended.append(survey_url),
    )
    resolved_chat(workspace)
    dispatch_pending()

    assert len(ended) == 1
    assert ended[0].startswith("https://cx.example.com/s/")


@pytest.mark.parametrize(
    "fields",
    [
        {"trigger": Survey.Trigger.MANUAL},
        {"trigger_channels": ["email"]},
        {"is_active": False},
    ],
)
def test_no_inline_question_without_a_csat_survey_for_chats(workspace, fields):
    csat(workspace, **fields)
    make_survey(workspace, "nps", trigger=Survey.Trigger.CONVERSATION_RESOLVED, name="NPS")

    assert chat.chat_survey_url(resolved_chat(workspace)) == ""


def test_no_inline_question_without_survey_consent(workspace):
    csat(workspace)

    assert chat.chat_survey_url(resolved_chat(workspace, consent=False)) == ""


def test_the_inline_comment_goes_into_the_same_response_once(workspace):
    survey = csat(workspace)
    conversation = resolved_chat(workspace)
    path = chat.chat_survey_url(conversation).removeprefix("https://cx.example.com")
    browser = Client()
    comment_url = f"{path}comment/"

    def post(body: object) -> Any:
        data = body if isinstance(body, str) else json.dumps(body)
        return browser.post(comment_url, data, content_type="text/plain")

    too_early = post({"comment": "Before the score"})
    browser.get(f"{path}answer/5/")
    first = post({"comment": "  Quick and kind.  "})
    second = post({"comment": "Changed my mind"})
    services.intake_drain()

    assert too_early.status_code == 409
    assert too_early.json()["error"] == "no_score"
    assert first.status_code == 201
    assert first["Access-Control-Allow-Origin"] == "*"
    assert second.status_code == 409
    assert second.json()["error"] == "already_answered"
    response = Response.objects.get(survey=survey)
    assert (response.csat_score, response.comment, response.completed) == (
        5,
        "Quick and kind.",
        True,
    )
    assert Response.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", "invalid_json"),
        ('["a list"]', "invalid"),
        ({"comment": ""}, "invalid"),
        ({"comment": "x" * 2001}, "invalid"),
        ({"comment": 42}, "invalid"),
    ],
)
def test_a_bad_comment_is_refused_clearly_and_nothing_is_stored(workspace, body, error):
    csat(workspace)
    path = chat.chat_survey_url(resolved_chat(workspace)).removeprefix("https://cx.example.com")
    browser = Client()
    browser.get(f"{path}answer/3/")

    data = body if isinstance(body, str) else json.dumps(body)
    refused = browser.post(f"{path}comment/", data, content_type="text/plain")
    services.intake_drain()

    assert refused.status_code == 400
    assert refused.json()["error"] == error
    response = Response.objects.get()
    assert (response.comment, response.completed) == ("", False)


def test_a_comment_with_a_forged_link_is_404(workspace, client):
    refused = client.post(
        "/s/forged-token/comment/", '{"comment": "hi"}', content_type="text/plain"
    )

    assert refused.status_code == 404
    assert refused.json()["error"] == "invalid_link"
