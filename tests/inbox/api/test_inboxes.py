"""Inboxes over the API: list, get, create (admins only)."""

from __future__ import annotations

from ascolto.core.models import AuditLogEntry
from ascolto.inbox.models import Inbox
from tests.accounts.factories import TeamFactory
from tests.api.conftest import assert_problem
from tests.inbox.factories import InboxFactory


def test_list_and_get(api, workspace):
    email = InboxFactory(workspace=workspace, name="Support email", channel="email")
    chat = InboxFactory(workspace=workspace, name="Shop chat", channel="webchat")

    listed = api.get("inboxes").json()
    one = api.get(f"inboxes/{email.pk}").json()

    assert [(i["id"], i["name"]) for i in listed] == [
        (chat.pk, "Shop chat"),
        (email.pk, "Support email"),
    ]
    assert one["channel"] == "email"
    assert one["is_active"] is True


def test_admins_create_inboxes(admin_api, workspace):
    team = TeamFactory(workspace=workspace)

    response = admin_api.post(
        "inboxes",
        {
            "name": " WhatsApp IT ",
            "channel": "whatsapp",
            "team_id": team.pk,
            "routing": "round_robin",
            "reopen_window_hours": 24,
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "WhatsApp IT"
    assert body["team_id"] == team.pk
    assert body["routing"] == "round_robin"
    assert body["reopen_window_hours"] == 24
    inbox = Inbox.objects.get(pk=body["id"])
    assert inbox.workspace == workspace
    assert AuditLogEntry.objects.filter(action="inbox.create", object_id=str(inbox.pk)).exists()


def test_agents_cannot_create_inboxes(api):
    assert_problem(api.post("inboxes", {"name": "X", "channel": "email"}), 403, "forbidden")
    assert not Inbox.objects.exists()


def test_invalid_inboxes_are_422(admin_api):
    for body, field in [
        ({"name": "X", "channel": "pigeon"}, "channel"),
        ({"name": "", "channel": "email"}, "name"),
        ({"name": "X", "channel": "email", "routing": "random"}, "routing"),
        ({"name": "X", "channel": "email", "reopen_window_hours": -1}, "reopen_window_hours"),
        ({"name": "X\u0000", "channel": "email"}, "name"),
    ]:
        problem = assert_problem(admin_api.post("inboxes", body), 422, "validation_failed")
        assert field in problem["errors"]
    assert not Inbox.objects.exists()
