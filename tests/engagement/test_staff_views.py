"""Engagement staff pages: rules overview, the rule builder and its dry run, templates with a
live preview, sends, settings; roles and workspace isolation."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ascolto.core.actors import Actor
from ascolto.customers.models import Order
from ascolto.engagement import guards, services
from ascolto.engagement.models import Event, MessageTemplate, Rule, Send
from tests.customers.factories import CustomerFactory
from tests.ui.conftest import login

SYSTEM = Actor.system("test")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin(client: Client, admin_user: Any) -> Client:
    return login(client, admin_user)


@pytest.fixture
def agent_client(agent: Any) -> Client:
    return login(Client(), agent)


def builder_post(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Gold delays",
        "trigger": "order.delayed",
        "purpose": "service",
        "is_active": "on",
        "mode": "all",
        "cond_rows": "2",
        "cond-0-field": "customer.value_tier",
        "cond-0-op": "in",
        "cond-0-value": "gold, platinum",
        "cond-1-field": "order.total",
        "cond-1-op": "gte",
        "cond-1-value": "50",
        "action_rows": "2",
        "action-0-type": "send_message",
        "action-0-template": "order-delayed",
        "action-1-type": "add_tag",
        "action-1-tag": "proactive",
        "save": "1",
    }
    data.update(overrides)
    return data


def test_pages_render_for_an_admin(admin: Client, delayed_rule: Rule) -> None:
    for name, args in (
        ("overview", []),
        ("rule_new", []),
        ("rule", [delayed_rule.pk]),
        ("rule_sends", [delayed_rule.pk]),
        ("sends", []),
        ("templates", []),
        ("template_new", []),
        ("settings", []),
    ):
        response = admin.get(reverse(f"engagement_staff:{name}", args=args))
        assert response.status_code == 200, name
    overview = admin.get(reverse("engagement_staff:overview")).content.decode()
    assert "Tell about delays" in overview
    assert reverse("engagement_staff:templates") in overview
    assert reverse("engagement_staff:settings") in overview


def test_the_overview_counts_the_sends_of_the_last_week_by_status(
    admin: Client, workspace: Any, delayed_rule: Rule, customer: Any
) -> None:
    for n, status in enumerate(["sent", "sent", "skipped"]):
        event = Event.objects.create(
            workspace=workspace,
            external_id=f"e{n}",
            type="order.delayed",
            customer=customer,
            occurred_at="2026-01-01T00:00:00Z",
        )
        Send.objects.create(
            workspace=workspace, rule=delayed_rule, event=event, customer=customer, status=status
        )

    html = admin.get(reverse("engagement_staff:overview")).content.decode()

    assert 'data-status="sent">Sent: <span class="num">2</span>' in html
    assert 'data-status="skipped">Skipped: <span class="num">1</span>' in html
    assert 'data-status="failed">Failed: <span class="num">0</span>' in html


def test_the_builder_creates_the_rule_the_api_would(admin: Client, workspace: Any) -> None:
    response = admin.post(reverse("engagement_staff:rule_new"), builder_post())

    rule = Rule.objects.get(workspace=workspace, name="Gold delays")
    assert response.status_code == 302
    assert response["Location"] == reverse("engagement_staff:rule", args=[rule.pk])
    assert rule.trigger == "order.delayed"
    assert rule.conditions == {
        "all": [
            {"field": "customer.value_tier", "op": "in", "value": ["gold", "platinum"]},
            {"field": "order.total", "op": "gte", "value": 50},
        ]
    }
    assert rule.actions == [
        {"type": "send_message", "template": "order-delayed"},
        {"type": "add_tag", "tag": "proactive"},
    ]


def test_bad_input_shows_errors_next_to_the_fields_and_keeps_the_input(
    admin: Client, workspace: Any
) -> None:
    response = admin.post(
        reverse("engagement_staff:rule_new"),
        builder_post(**{"cond-1-value": "lots", "action-1-tag": ""}),
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert not Rule.objects.filter(workspace=workspace).exists()
    assert 'value="Gold delays"' in html
    assert 'value="lots"' in html
    assert 'value="gold, platinum"' in html
    # The number error sits in condition row 1, next to its value field.
    row = html.split('data-condition="1"')[1].split('data-condition="2"')[0]
    assert "A number." in row


def test_the_raw_json_mode_saves_nested_conditions_and_reports_bad_json(
    admin: Client, workspace: Any
) -> None:
    nested = '{"any": [{"not": {"field": "consent.marketing", "op": "eq", "value": false}}]}'
    admin.post(
        reverse("engagement_staff:rule_new"),
        builder_post(mode="json", conditions_json=nested, cond_rows="0"),
    )
    assert Rule.objects.get(workspace=workspace).conditions["any"][0]["not"]["op"] == "eq"

    bad = admin.post(
        reverse("engagement_staff:rule_new"),
        builder_post(name="Broken", mode="json", conditions_json="{nope", cond_rows="0"),
    )
    assert bad.status_code == 400
    assert "{nope" in bad.content.decode()
    assert not Rule.objects.filter(name="Broken").exists()


def test_an_existing_rule_opens_as_rows_and_saves_changes(
    admin: Client, delayed_rule: Rule
) -> None:
    html = admin.get(reverse("engagement_staff:rule", args=[delayed_rule.pk])).content.decode()
    assert 'name="cond-0-field" value="order.status"' in html
    assert 'value="order-delayed"' in html

    admin.post(
        reverse("engagement_staff:rule", args=[delayed_rule.pk]),
        builder_post(name="Renamed", is_active=""),
    )
    delayed_rule.refresh_from_db()
    assert delayed_rule.name == "Renamed"
    assert delayed_rule.is_active is False


def test_adding_a_row_keeps_what_was_typed_and_saves_nothing(admin: Client, workspace: Any) -> None:
    data = builder_post(add_condition="1")
    del data["save"]
    html = admin.post(reverse("engagement_staff:rule_new"), data).content.decode()

    assert 'name="cond-2-field"' in html
    assert 'value="gold, platinum"' in html
    assert not Rule.objects.filter(workspace=workspace).exists()


def test_agents_read_but_cannot_write(
    agent_client: Client, delayed_rule: Rule, workspace: Any
) -> None:
    assert agent_client.get(reverse("engagement_staff:overview")).status_code == 200
    assert (
        agent_client.post(reverse("engagement_staff:rule_new"), builder_post()).status_code == 403
    )
    edit = reverse("engagement_staff:rule", args=[delayed_rule.pk])
    assert agent_client.post(edit, builder_post(name="Hijack")).status_code == 403
    toggle = reverse("engagement_staff:rule_toggle", args=[delayed_rule.pk])
    assert agent_client.post(toggle).status_code == 403
    template_new = reverse("engagement_staff:template_new")
    assert (
        agent_client.post(template_new, {"key": "x", "language": "en", "body": "x"}).status_code
        == 403
    )
    assert agent_client.get(reverse("engagement_staff:settings")).status_code == 403
    secret = reverse("engagement_staff:regenerate_secret")
    assert agent_client.post(secret, {"confirm": "yes"}).status_code == 403
    delayed_rule.refresh_from_db()
    assert delayed_rule.name == "Tell about delays"
    assert delayed_rule.is_active


def test_the_toggle_pauses_and_resumes_a_rule(admin: Client, delayed_rule: Rule) -> None:
    url = reverse("engagement_staff:rule_toggle", args=[delayed_rule.pk])
    admin.post(url)
    delayed_rule.refresh_from_db()
    assert delayed_rule.is_active is False
    fragment = admin.post(url, {"active": "on"}, **HTMX).content.decode()
    delayed_rule.refresh_from_db()
    assert delayed_rule.is_active is True
    assert 'aria-pressed="true"' in fragment


def test_another_workspaces_rule_and_template_are_404(admin: Client, other_workspace: Any) -> None:
    theirs = services.rule_create(
        workspace=other_workspace,
        actor=SYSTEM,
        name="Theirs",
        trigger="order.placed",
        actions=[{"type": "add_tag", "tag": "x"}],
    )
    template = services.template_upsert(
        workspace=other_workspace, actor=SYSTEM, key="k", language="en", body="secret text"
    )
    for name in ("rule", "rule_sends"):
        assert admin.get(reverse(f"engagement_staff:{name}", args=[theirs.pk])).status_code == 404
    assert admin.post(reverse("engagement_staff:rule_toggle", args=[theirs.pk])).status_code == 404
    dry = reverse("engagement_staff:dry_run", args=[theirs.pk])
    assert admin.post(dry, {"customer": "x"}).status_code == 404
    assert admin.get(reverse("engagement_staff:template", args=[template.pk])).status_code == 404
    assert "Theirs" not in admin.get(reverse("engagement_staff:overview")).content.decode()


@pytest.mark.usefixtures("no_quiet_hours")
def test_the_dry_run_shows_the_rendered_text_and_stores_nothing(
    admin: Client, workspace: Any, delayed_rule: Rule, customer: Any
) -> None:
    Order.objects.create(
        workspace=workspace,
        customer=customer,
        external_id="1001",
        placed_at="2026-03-01T10:00:00Z",
        total="59.90",
        currency="EUR",
        status="pending",
    )
    counts = (Event.objects.count(), Send.objects.count(), Order.objects.count())

    response = admin.post(
        reverse("engagement_staff:dry_run", args=[delayed_rule.pk]),
        {
            "customer": "dana@example",
            "event_type": "order.delayed",
            "order": "1001",
            "payload": '{"new_date": "2026-03-12T10:00:00+00:00"}',
        },
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Hi Dana, order 1001 is late: now" in html
    assert "Would send now." in html
    assert (Event.objects.count(), Send.objects.count(), Order.objects.count()) == counts
    assert Order.objects.get(external_id="1001").status == "pending"


def test_the_dry_run_says_what_blocks_the_send_and_when_nothing_matches(
    admin: Client, workspace: Any, delayed_rule: Rule, customer: Any
) -> None:
    Order.objects.create(
        workspace=workspace,
        customer=customer,
        external_id="1001",
        placed_at="2026-03-01T10:00:00Z",
        total="59.90",
        currency="EUR",
    )
    config = guards.settings_for(workspace.pk)
    config.cap_count = 0
    config.save()
    url = reverse("engagement_staff:dry_run", args=[delayed_rule.pk])

    blocked = admin.post(
        url, {"customer": f"#{customer.pk}", "event_type": "order.delayed", "order": "1001"}, **HTMX
    ).content.decode()
    # Without an order the condition (order.status = delayed) does not hold.
    unmatched = admin.post(
        url, {"customer": f"#{customer.pk}", "event_type": "order.delayed"}, **HTMX
    ).content.decode()

    assert "Blocked: Frequency cap reached." in " ".join(blocked.split())
    assert "No: the rule is paused" in unmatched


def test_the_dry_run_explains_bad_sample_input(
    admin: Client, delayed_rule: Rule, customer: Any
) -> None:
    url = reverse("engagement_staff:dry_run", args=[delayed_rule.pk])
    nobody = admin.post(url, {"customer": "nobody-like-this"}).content.decode()
    assert "Pick one customer" in nobody
    bad_json = admin.post(url, {"customer": "Dana", "payload": "[1"}, **HTMX).content.decode()
    assert "A JSON object" in bad_json


def test_the_preview_renders_for_a_customer_and_hebrew_reads_right_to_left(
    admin: Client, workspace: Any
) -> None:
    person = CustomerFactory(workspace=workspace, name="נועה כהן", locale="he")
    response = admin.post(
        reverse("engagement_staff:template_preview"),
        {
            "customer": f"#{person.pk}",
            "language": "he",
            "subject": "",
            "body": "שלום {{ first_name }}",
        },
        **HTMX,
    )
    html = response.content.decode()
    assert 'dir="rtl"' in html
    assert "שלום נועה" in html

    english = CustomerFactory(workspace=workspace, name="Sam Hill", locale="en")
    html = admin.post(
        reverse("engagement_staff:template_preview"),
        {"customer": f"#{english.pk}", "language": "en", "body": "Hello {{ first_name }}"},
        **HTMX,
    ).content.decode()
    assert 'dir="ltr"' in html
    assert "Hello Sam" in html


def test_the_preview_shows_template_errors(admin: Client, workspace: Any) -> None:
    person = CustomerFactory(workspace=workspace, name="Sam Hill")
    html = admin.post(
        reverse("engagement_staff:template_preview"),
        {"customer": f"#{person.pk}", "language": "en", "body": "{% load static %}Hi"},
        **HTMX,
    ).content.decode()
    assert 'data-testid="preview-error"' in html
    assert "may not use" in html


def test_hostile_html_in_a_template_is_shown_as_text(admin: Client, workspace: Any) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    person = CustomerFactory(workspace=workspace, name='<b onmouseover="x()">Eve</b>')
    template = services.template_upsert(
        workspace=workspace, actor=SYSTEM, key="evil", language="en", body=hostile + "{{ name }}"
    )
    preview = admin.post(
        reverse("engagement_staff:template_preview"),
        {"customer": f"#{person.pk}", "language": "en", "body": template.body},
        **HTMX,
    ).content.decode()
    edit = admin.get(reverse("engagement_staff:template", args=[template.pk])).content.decode()
    listing = admin.get(reverse("engagement_staff:templates")).content.decode()
    for html in (preview, edit, listing):
        assert "<script>alert(1)" not in html
        assert "<img src=x" not in html
        assert "<b onmouseover" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview


def test_templates_are_listed_by_key_and_saved_from_the_form(
    admin: Client, workspace: Any, delayed_rule: Rule
) -> None:
    listing = admin.get(reverse("engagement_staff:templates")).content.decode()
    assert listing.count('data-key="order-delayed"') == 1
    assert "· he" in listing
    assert "· it" in listing

    response = admin.post(
        reverse("engagement_staff:template_new"),
        {"key": "welcome", "channel": "sms", "language": "it", "body": "Ciao {{ first_name }}"},
    )
    saved = MessageTemplate.objects.get(workspace=workspace, key="welcome")
    assert response.status_code == 302
    assert (saved.channel, saved.language) == ("sms", "it")

    bad = admin.post(
        reverse("engagement_staff:template_new"),
        {"key": "broken", "channel": "any", "language": "en", "body": "{% if %}"},
    )
    assert bad.status_code == 400
    assert "{% if %}" in bad.content.decode()
    assert not MessageTemplate.objects.filter(key="broken").exists()


def test_sends_list_filters_by_status_and_links_the_conversation(
    admin: Client, workspace: Any, delayed_rule: Rule, customer: Any
) -> None:
    for n, (status, reason) in enumerate([("sent", ""), ("skipped", "Frequency cap reached.")]):
        event = Event.objects.create(
            workspace=workspace,
            external_id=f"e{n}",
            type="order.delayed",
            customer=customer,
            occurred_at="2026-01-01T00:00:00Z",
        )
        Send.objects.create(
            workspace=workspace,
            rule=delayed_rule,
            event=event,
            customer=customer,
            status=status,
            reason=reason,
            conversation_id=4242 if status == "sent" else None,
        )

    everything = admin.get(reverse("engagement_staff:sends")).content.decode()
    skipped = admin.get(
        reverse("engagement_staff:rule_sends", args=[delayed_rule.pk]), {"status": "skipped"}
    ).content.decode()

    assert reverse("inbox:conversation", args=[4242]) in everything
    assert "Frequency cap reached." in skipped
    assert reverse("inbox:conversation", args=[4242]) not in skipped


def test_settings_update_and_secret_regeneration(admin: Client, workspace: Any) -> None:
    old = guards.settings_for(workspace.pk).webhook_secret
    page = admin.get(reverse("engagement_staff:settings")).content.decode()
    assert old in page
    assert f"/engagement/webhooks/{workspace.slug}/shopify" in page

    response = admin.post(
        reverse("engagement_staff:settings"),
        {"quiet_start": "22:30", "quiet_end": "07:00", "cap_count": "2", "cap_window_hours": "48"},
    )
    config = guards.settings_for(workspace.pk)
    assert response.status_code == 302
    assert (str(config.quiet_start), config.cap_count, config.cap_window_hours) == (
        "22:30:00",
        2,
        48,
    )

    bad = admin.post(
        reverse("engagement_staff:settings"),
        {"quiet_start": "25:00", "quiet_end": "07:00", "cap_count": "-1", "cap_window_hours": "0"},
    )
    assert bad.status_code == 400
    assert guards.settings_for(workspace.pk).cap_count == 2

    admin.post(reverse("engagement_staff:regenerate_secret"), {})
    assert guards.settings_for(workspace.pk).webhook_secret == old
    admin.post(reverse("engagement_staff:regenerate_secret"), {"confirm": "yes"})
    assert guards.settings_for(workspace.pk).webhook_secret != old


def test_the_builder_makes_a_scheduled_follow_up_rule_and_names_bad_settings(
    admin: Client, workspace: Any
) -> None:
    from tests.inbox.factories import InboxFactory

    inbox = InboxFactory(workspace=workspace)
    follow_up = {
        "name": "Win back",
        "trigger": "schedule",
        "trigger_config_json": '{"every": "week", "weekday": "monday", "at": "10:00"}',
        "cond_rows": "1",
        "cond-0-field": "customer.days_since_last_order",
        "cond-0-op": "gt",
        "cond-0-value": "90",
        "action_rows": "1",
        "action-0-type": "create_conversation",
        "action-0-inbox": str(inbox.pk),
        "action-0-subject": "Call back a lapsed customer",
        "action-0-due_in_days": "3",
    }

    bad = admin.post(
        reverse("engagement_staff:rule_new"),
        builder_post(**{**follow_up, "trigger_config_json": '{"every": "fortnight"}'}),
    )
    assert bad.status_code == 400
    assert not Rule.objects.filter(workspace=workspace).exists()
    assert "fortnight" in bad.content.decode()  # the settings come back as typed

    response = admin.post(reverse("engagement_staff:rule_new"), builder_post(**follow_up))

    assert response.status_code == 302
    rule = Rule.objects.get(workspace=workspace, name="Win back")
    assert rule.trigger == "schedule"
    assert rule.trigger_config["weekday"] == "monday"
    assert rule.actions == [
        {
            "type": "create_conversation",
            "inbox": inbox.pk,
            "subject": "Call back a lapsed customer",
            "due_in_days": 3,
        }
    ]
    page = admin.get(reverse("engagement_staff:rule", args=[rule.pk])).content.decode()
    assert "monday" in page


def test_the_rule_page_shows_what_the_rule_did_against_its_hold_out(
    admin: Client, workspace: Any, delayed_rule: Rule, customer: Any
) -> None:
    from ascolto.engagement import holdout

    for n, (status, reason, message_id) in enumerate(
        [
            ("sent", "", 101),
            ("sent", "", 102),
            ("skipped", holdout.HELD_OUT_REASON, None),
            ("skipped", "Frequency cap reached.", None),
        ]
    ):
        event = Event.objects.create(
            workspace=workspace,
            external_id=f"r{n}",
            type="order.delayed",
            customer=customer,
            occurred_at="2026-01-01T00:00:00Z",
        )
        Send.objects.create(
            workspace=workspace,
            rule=delayed_rule,
            event=event,
            customer=customer,
            status=status,
            reason=reason,
            message_id=message_id,
        )

    html = admin.get(reverse("engagement_staff:rule", args=[delayed_rule.pk])).content.decode()

    assert 'data-testid="rule-results"' in html
    assert 'data-result="sent">2<' in html
    assert 'data-result="held_out">1' in html
    assert 'data-result="skipped">1<' in html
    assert admin.get(reverse("engagement_staff:rule_new")).status_code == 200
    assert (
        'data-testid="rule-results"'
        not in admin.get(reverse("engagement_staff:rule_new")).content.decode()
    )
