"""The assistant's answer on WhatsApp leaves through Twilio with an absolute https link to the
article on the configured public address: a site-relative /help/ link is useless in a phone's
messaging app."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest

from ascolto.assistant.models import AssistantSettings
from ascolto.connectors.twilio import services
from ascolto.core.actors import Actor
from ascolto.helpcenter import services as help_services
from ascolto.helpcenter.search import registry
from ascolto.inbox import services as inbox_services

pytestmark = pytest.mark.django_db
pytest.importorskip("lingua")

ACTOR = Actor.system("test")


def test_a_whatsapp_bot_answer_links_the_article_on_the_public_address(
    workspace: Any,
    whatsapp: Any,
    fake_twilio: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    registry._indexes.clear()
    settings.ASCOLTO_PUBLIC_URL = "https://cx.example.com"
    article = help_services.article_create(
        workspace=workspace, actor=ACTOR, slug="password", category=None
    )
    help_services.translation_save(
        article=article,
        actor=ACTOR,
        language="en",
        title="Reset your password",
        body_markdown="To reset your password, open the login page and click Forgot password. "
        "We send you a link by email; it is valid for one hour.",
    )
    help_services.article_publish(article=article, actor=ACTOR)
    AssistantSettings.objects.create(workspace=workspace, enabled=True)
    customer = services.customer_for_phone(
        workspace=workspace, number="+393331234567", whatsapp=True, actor=ACTOR
    )

    with django_capture_on_commit_callbacks(execute=True):
        inbox_services.message_receive(
            inbox=whatsapp.inbox,
            customer=customer,
            text="Please help me reset my password",
            provider_id="SMin1",
        )

    [request] = fake_twilio.requests
    body = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}["Body"]
    assert f"https://cx.example.com/help/{workspace.slug}/en/a/reset-your-password/" in body
    assert " /help/" not in body
