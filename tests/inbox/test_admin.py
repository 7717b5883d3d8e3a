"""Django admin for the inbox: every model is there and its pages load; business-hours
calendars and SLA policies are refused when the product could not use them."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import BusinessHours, SLAPolicy
from tests.accounts.factories import TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory
from tests.ui.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client: Client) -> Client:
    return login(client, UserFactory(is_staff=True, is_superuser=True))


def test_every_inbox_model_is_registered_and_its_pages_load(
    superuser_client: Client, workspace: Any
) -> None:
    inbox = InboxFactory(workspace=workspace)
    inbox_services.message_receive(
        inbox=inbox, customer=CustomerFactory(workspace=workspace), text="Hello"
    )
    for model in apps.get_app_config("inbox").get_models():
        assert admin.site.is_registered(model), model.__name__
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert superuser_client.get(changelist, {"q": "a"}).status_code == 200, changelist
        obj = model._default_manager.first()
        if obj is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert superuser_client.get(change).status_code == 200, change


def _hours(workspace: Any, **extra: Any) -> dict[str, Any]:
    data = {
        "workspace": workspace.pk,
        "name": "Milan office",
        "team": "",
        "timezone": "Europe/Rome",
        "schedule": '{"mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]]}',
        "holidays": '["2026-12-25"]',
    }
    data.update(extra)
    return data


def test_a_business_hours_calendar_is_created_when_the_product_can_use_it(
    superuser_client: Client, workspace: Any
) -> None:
    url = reverse("admin:inbox_businesshours_add")

    response = superuser_client.post(url, _hours(workspace))

    assert response.status_code == 302, response.content.decode()[:2000]
    hours = BusinessHours.objects.get(workspace=workspace)
    assert hours.schedule["mon"] == [["09:00", "18:00"]]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "Unknown time zone"),
        ({"schedule": '{"funday": [["09:00", "18:00"]]}'}, "Unknown days"),
        ({"schedule": '{"mon": []}'}, "no open hours"),
        ({"holidays": '["Christmas"]'}, "is not a date"),
    ],
)
def test_a_calendar_the_product_cannot_use_is_refused_with_the_reason(
    superuser_client: Client, workspace: Any, extra: dict[str, str], message: str
) -> None:
    response = superuser_client.post(
        reverse("admin:inbox_businesshours_add"), _hours(workspace, **extra)
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not BusinessHours.objects.exists()


def test_a_calendar_cannot_name_another_workspaces_team(
    superuser_client: Client, workspace: Any, other_workspace: Any
) -> None:
    team = TeamFactory(workspace=other_workspace)

    response = superuser_client.post(
        reverse("admin:inbox_businesshours_add"), _hours(workspace, team=team.pk)
    )

    assert response.status_code == 200
    assert "another workspace" in response.content.decode()
    assert not BusinessHours.objects.exists()


def test_an_sla_policy_with_an_unknown_escalation_is_refused(
    superuser_client: Client, workspace: Any
) -> None:
    data = {
        "workspace": workspace.pk,
        "name": "VIP",
        "position": 0,
        "value_tier": "",
        "channel": "",
        "first_response_minutes": 30,
        "warn_before_minutes": 15,
        "escalation": '["call_the_ceo"]',
        "is_active": "on",
    }
    url = reverse("admin:inbox_slapolicy_add")

    refused = superuser_client.post(url, data)
    accepted = superuser_client.post(url, {**data, "escalation": '["notify"]'})

    assert refused.status_code == 200
    assert "A list of" in refused.content.decode()
    assert accepted.status_code == 302
    assert list(SLAPolicy.objects.values_list("escalation", flat=True)) == [["notify"]]
