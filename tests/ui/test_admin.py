"""Django admin: every model of every Ascolto app is there and its pages load; the
audit log cannot be touched; edits that matter go through the services (and reach the audit)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from ascolto.accounts.models import ApiToken, Membership
from ascolto.accounts.services import api_token_create
from ascolto.core.actors import Actor
from ascolto.core.models import AuditLogEntry, Job
from ascolto.customers.models import Customer
from tests.accounts.factories import UserFactory
from tests.ui.conftest import build_rich_customer, login

pytestmark = pytest.mark.django_db


def _models() -> list[type]:
    return [
        model
        for config in apps.get_app_configs()
        if config.name.startswith("ascolto.")
        for model in config.get_models()
    ]


@pytest.fixture
def superuser_client(client: Client) -> Client:
    return login(client, UserFactory(is_staff=True, is_superuser=True))


def test_every_model_is_registered() -> None:
    missing = [model.__name__ for model in _models() if not admin.site.is_registered(model)]

    assert missing == []


def test_every_changelist_and_change_page_loads(  # type: ignore[no-untyped-def]
    superuser_client: Client, workspace, actor
):
    build_rich_customer(workspace, actor)
    api_token_create(workspace=workspace, user=actor.user, name="CI", actor=actor)
    Job.objects.create(workspace=workspace, kind="import.customers")

    for model in _models():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        response = superuser_client.get(changelist, {"q": "a"})
        assert response.status_code == 200, changelist
        obj = model._default_manager.first()
        if obj is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert superuser_client.get(change).status_code == 200, change


def test_audit_log_entries_cannot_be_added_changed_or_deleted(  # type: ignore[no-untyped-def]
    superuser_client: Client, workspace, actor
):
    build_rich_customer(workspace, actor)
    entry = AuditLogEntry.objects.first()
    assert entry is not None
    change = reverse("admin:core_auditlogentry_change", args=[entry.pk])

    add = superuser_client.get(reverse("admin:core_auditlogentry_add"))
    view = superuser_client.get(change)
    post = superuser_client.post(change, {"action": "forged"})
    delete = superuser_client.post(
        reverse("admin:core_auditlogentry_delete", args=[entry.pk]), {"post": "yes"}
    )

    assert add.status_code == 403
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    assert post.status_code == 403
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert entry.action != "forged"


def test_customer_edit_in_admin_goes_through_the_service(  # type: ignore[no-untyped-def]
    superuser_client: Client, workspace, actor
):
    customer = build_rich_customer(workspace, actor)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    form = {
        "name": "Giulia Bianchi-Verdi",
        "external_id": customer.external_id,
        "locale": "it",
        "timezone": "Europe/Rome",
        "birthday": "1990-05-17",
        "value_tier": "platinum",
        "organization": "",
        "identities-TOTAL_FORMS": "0",
        "identities-INITIAL_FORMS": "0",
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
    }

    response = superuser_client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    customer.refresh_from_db()
    assert customer.name == "Giulia Bianchi-Verdi"
    entry = AuditLogEntry.objects.filter(customer_id=customer.pk, action="customer.update").first()
    assert entry is not None
    assert entry.changes["name"] == ["Giulia Bianchi", "Giulia Bianchi-Verdi"]


def test_customer_admin_refuses_an_unknown_time_zone(  # type: ignore[no-untyped-def]
    superuser_client: Client, workspace
):
    response = superuser_client.post(
        reverse("admin:customers_customer_add"),
        {
            "workspace": workspace.pk,
            "name": "Nobody",
            "timezone": "Mars/Olympus",
            "value_tier": "",
            "locale": "",
            "identities-TOTAL_FORMS": "0",
            "identities-INITIAL_FORMS": "0",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "Unknown time zone" in response.content.decode()
    assert not Customer.objects.filter(name="Nobody").exists()


def test_role_change_in_admin_is_audited(superuser_client: Client, workspace, agent) -> None:  # type: ignore[no-untyped-def]
    membership = Membership.objects.get(workspace=workspace, user=agent)

    response = superuser_client.post(
        reverse("admin:accounts_membership_change", args=[membership.pk]), {"role": "supervisor"}
    )

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "supervisor"
    assert AuditLogEntry.objects.filter(action="membership.set", object_id=str(agent.pk)).exists()


def test_api_tokens_are_revoked_from_the_admin(  # type: ignore[no-untyped-def]
    superuser_client: Client, workspace, agent
):
    token, _raw = api_token_create(
        workspace=workspace, user=agent, name="Zapier", actor=Actor.for_user(agent)
    )

    response = superuser_client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ApiToken.objects.filter(pk=token.pk, digest=token.digest).exists()
    assert superuser_client.get(reverse("admin:accounts_apitoken_add")).status_code == 403


def test_customer_added_in_admin_is_created_by_the_service(  # type: ignore[no-untyped-def]
    superuser_client: Client, workspace
):
    response = superuser_client.post(
        reverse("admin:customers_customer_add"),
        {
            "workspace": workspace.pk,
            "name": "Dana Levi",
            "timezone": "Asia/Jerusalem",
            "value_tier": "gold",
            "locale": "he",
            "identities-TOTAL_FORMS": "0",
            "identities-INITIAL_FORMS": "0",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    customer = Customer.objects.get(workspace=workspace, name="Dana Levi")
    assert customer.value_tier == "gold"
    assert AuditLogEntry.objects.filter(customer_id=customer.pk, action="customer.create").exists()
    assert customer.activities.filter(kind="customer.created").exists()
