"""Admins set API inboxes and their webhooks up; the signing secret is shown once."""

from __future__ import annotations

import pytest

from ascolto.core.models import AuditLogEntry
from ascolto.inbox.models import Inbox, Message
from tests.accounts.factories import TeamFactory
from tests.api.conftest import assert_problem
from tests.connectors.api_channel.conftest import ingest_body


def test_admins_create_an_api_inbox_and_get_the_secret_once(admin_api, workspace, receiver):
    team = TeamFactory(workspace=workspace)

    response = admin_api.post(
        "channels/api/inboxes",
        {"name": "Marketplace", "webhook_url": receiver.url, "team_id": team.pk},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["channel"] == "api"
    assert body["webhook_url"] == receiver.url
    assert body["team_id"] == team.pk
    assert len(body["webhook_secret"]) == 64
    inbox = Inbox.objects.get(pk=body["inbox_id"])
    assert inbox.config["webhook_secret"] == body["webhook_secret"]
    shown = admin_api.get(f"channels/api/{inbox.pk}/webhook").json()
    assert shown == {"inbox_id": inbox.pk, "webhook_url": receiver.url, "webhook_secret": None}
    audit = AuditLogEntry.objects.get(action="api_channel.configure")
    assert body["webhook_secret"] not in str(audit.changes)


def test_change_the_url_and_rotate_the_secret(admin_api, channel):
    path = f"channels/api/{channel.inbox.pk}/webhook"

    moved = admin_api.put(path, {"webhook_url": "https://shop.example.com/hooks"})
    rotated = admin_api.put(path, {"rotate_secret": True})
    removed = admin_api.put(path, {"webhook_url": ""})

    assert moved.json()["webhook_url"] == "https://shop.example.com/hooks"
    assert moved.json()["webhook_secret"] is None
    assert rotated.json()["webhook_url"] == "https://shop.example.com/hooks"
    new_secret = rotated.json()["webhook_secret"]
    assert new_secret
    assert new_secret != channel.secret
    assert removed.json()["webhook_url"] == ""
    channel.inbox.refresh_from_db()
    assert channel.inbox.config["webhook_secret"] == new_secret


@pytest.mark.parametrize(
    "url",
    [
        "ftp://shop.example.com/hook",
        "https://user:pass@shop.example.com/hook",
        "https:///hook",
        "shop.example.com/hook",
        "https://shop.example.com/a b",
        "https://shop.example.com/" + "x" * 2000,
    ],
)
def test_unusable_webhook_urls_are_422(admin_api, channel, url):
    response = admin_api.put(f"channels/api/{channel.inbox.pk}/webhook", {"webhook_url": url})

    problem = assert_problem(response, 422, "validation_failed")
    assert list(problem["errors"]) == ["webhook_url"]
    channel.inbox.refresh_from_db()
    assert channel.inbox.config["webhook_url"].startswith("http://127.0.0.1:")


def test_agents_cannot_set_webhooks_up(api, channel):
    assert_problem(api.post("channels/api/inboxes", {"name": "X"}), 403, "forbidden")
    assert_problem(
        api.put(f"channels/api/{channel.inbox.pk}/webhook", {"rotate_secret": True}), 403
    )
    assert_problem(api.get(f"channels/api/{channel.inbox.pk}/webhook"), 403)
    assert Inbox.objects.count() == 1


def test_an_inbox_made_through_the_inbox_api_takes_messages(admin_api, api):
    inbox = admin_api.post("inboxes", {"name": "Plain API", "channel": "api"}).json()

    response = api.post(f"channels/api/{inbox['id']}/messages", ingest_body())

    assert response.status_code == 201
    assert Message.objects.get().inbox_id == inbox["id"]
