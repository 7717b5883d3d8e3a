"""Staff campaign pages: the list, the create form with its errors, the detail with its report,
and the start / pause / resume / cancel buttons; agents may look but not change."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ascolto.core.actors import Actor
from ascolto.customers.models import Consent
from ascolto.engagement import campaigns, services
from ascolto.engagement.models import Campaign
from ascolto.inbox.models import Message
from tests.customers.factories import CustomerFactory
from tests.engagement.conftest import SYSTEM
from tests.ui.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(workspace: Any, inbox: Any) -> None:
    services.template_upsert(
        workspace=workspace, actor=SYSTEM, key="spring-promo", language="en", body="Hi!"
    )


@pytest.fixture
def admin(client: Client, admin_user: Any) -> Client:
    return login(client, admin_user)


def valid_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Spring sale",
        "template_key": "spring-promo",
        "purpose": "marketing",
        "channel": "preferred",
        "audience": '{"field": "customer.value_tier", "op": "eq", "value": "gold"}',
        "holdout_percent": "10",
        "throttle_per_minute": "0",
        "conversion_window_days": "7",
    }
    data.update(overrides)
    return data


def test_create_form_saves_a_draft_and_shows_it(
    admin: Client, workspace: Any, template: None
) -> None:
    response = admin.post(reverse("engagement_campaigns:new"), valid_form())

    campaign = Campaign.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == reverse("engagement_campaigns:detail", args=[campaign.pk])
    assert campaign.audience == {"field": "customer.value_tier", "op": "eq", "value": "gold"}
    assert campaign.holdout_percent == 10
    page = admin.get(reverse("engagement_campaigns:list"))
    assert "Spring sale" in page.content.decode()
    detail = admin.get(response["Location"]).content.decode()
    assert "Draft" in detail
    assert f'action="/engagement/campaigns/{campaign.pk}/start/"' in detail


@pytest.mark.parametrize(
    ("audience", "message"),
    [
        ("{not json", "This is not valid JSON"),
        ("[1, 2]", "The conditions are one JSON object."),
        ('{"field": "customer.value_tier", "op": "bigger"}', "audience.op: Choose one of"),
    ],
)
def test_create_form_explains_bad_conditions_and_saves_nothing(
    admin: Client, workspace: Any, template: None, audience: str, message: str
) -> None:
    response = admin.post(reverse("engagement_campaigns:new"), valid_form(audience=audience))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Campaign.objects.exists()


def test_buttons_start_pause_resume_and_cancel(
    admin: Client,
    workspace: Any,
    admin_user: Any,
    template: None,
    no_quiet_hours: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    customer = CustomerFactory(
        workspace=workspace, value_tier="gold", attributes={"preferred_channel": "api"}
    )
    Consent.objects.create(
        workspace=workspace, customer=customer, purpose="marketing", channel="any", granted=True
    )
    campaign = campaigns.campaign_create(
        workspace=workspace,
        actor=Actor.for_user(admin_user),
        name="Spring",
        template_key="spring-promo",
    )

    def act(action: str) -> Any:
        url = reverse("engagement_campaigns:action", args=[campaign.pk, action])
        with django_capture_on_commit_callbacks(execute=True):
            return admin.post(url)

    assert act("pause").status_code == 400  # a draft cannot be paused
    assert act("start").status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert Message.objects.filter(conversation__customer=customer).count() == 1
    page = admin.get(reverse("engagement_campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Completed" in page
    assert act("cancel").status_code == 400

    paused = campaigns.campaign_create(
        workspace=workspace, actor=SYSTEM, name="Later", template_key="spring-promo"
    )
    paused.status = Campaign.Status.PAUSED
    paused.save()
    url = reverse("engagement_campaigns:action", args=[paused.pk, "cancel"])
    assert admin.post(url).status_code == 302
    paused.refresh_from_db()
    assert paused.status == "cancelled"


def test_progress_fragment_for_htmx(admin: Client, workspace: Any, template: None) -> None:
    campaign = Campaign.objects.create(
        workspace=workspace, name="Running", template_key="spring-promo", status="running"
    )
    response = admin.get(
        reverse("engagement_campaigns:detail", args=[campaign.pk]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="campaign-progress"' in body
    assert 'hx-trigger="every 3s"' in body
    assert "<html" not in body


def test_agents_may_look_but_not_change(
    client: Client, agent: Any, workspace: Any, other_workspace: Any, template: None
) -> None:
    login(client, agent)
    campaign = Campaign.objects.create(workspace=workspace, name="Spring", template_key="x")
    elsewhere = Campaign.objects.create(workspace=other_workspace, name="Other", template_key="x")

    assert client.get(reverse("engagement_campaigns:list")).status_code == 200
    assert client.get(reverse("engagement_campaigns:new")).status_code == 403
    url = reverse("engagement_campaigns:action", args=[campaign.pk, "start"])
    assert client.post(url).status_code == 403
    assert (
        client.get(reverse("engagement_campaigns:detail", args=[elsewhere.pk])).status_code == 404
    )
    campaign.refresh_from_db()
    assert campaign.status == "draft"
