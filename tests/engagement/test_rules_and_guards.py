"""Conditions, templates in three languages, and the guard rails around every send."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from ascolto.core.errors import ValidationFailed
from ascolto.customers import services as customer_services
from ascolto.customers.models import Consent
from ascolto.engagement import guards, rules, services, templates_render
from ascolto.engagement.models import Send
from ascolto.inbox.models import Message
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.engagement.conftest import SYSTEM

pytestmark = pytest.mark.django_db


def _context(**customer: Any) -> dict[str, Any]:
    return {"customer": customer, "order": {"total": Decimal("120.00")}, "consent": {}}


def test_conditions_combine_all_any_not_and_compare_numbers() -> None:
    predicate = rules.compile_conditions(
        {
            "all": [
                {"field": "customer.value_tier", "op": "in", "value": ["gold", "platinum"]},
                {"any": [{"field": "order.total", "op": "gte", "value": 100}]},
                {"not": {"field": "customer.locale", "op": "eq", "value": "he"}},
                {"field": "customer.attributes.vip", "op": "exists", "value": False},
            ]
        }
    )
    assert predicate(_context(value_tier="gold", locale="it", attributes={}))
    assert not predicate(_context(value_tier="silver", locale="it", attributes={}))
    assert not predicate(_context(value_tier="gold", locale="he", attributes={}))
    assert not predicate(_context(value_tier="gold", locale="it", attributes={"vip": True}))


def test_a_list_value_is_in_no_set_of_scalars_and_a_missing_field_equals_nothing() -> None:
    in_tiers = rules.compile_conditions({"field": "customer.tier", "op": "in", "value": ["a"]})
    assert not in_tiers({"customer": {"tier": ["a"]}})
    assert in_tiers({"customer": {"tier": "a"}})
    is_none = rules.compile_conditions({"field": "customer.tier", "op": "eq", "value": None})
    assert not is_none({"customer": {}})
    assert is_none({"customer": {"tier": None}})


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        ([], "conditions"),
        ({"field": "password", "op": "eq", "value": 1}, "conditions.field"),
        ({"field": "customer.name", "op": "__import__"}, "conditions.op"),
        (
            {"all": [{"field": "order.total", "op": "gt", "value": "lots"}]},
            "conditions.all.0.value",
        ),
        ({"all": {"field": "order.total"}}, "conditions"),
    ],
)
def test_bad_conditions_are_refused_with_the_path(condition: Any, path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        rules.compile_conditions(condition)
    assert path in caught.value.field_errors


@pytest.mark.parametrize(
    ("locale", "expected", "direction"),
    [
        ("en", "Hi Dana, order 1001 is late: now March 12, 2026.", "ltr"),
        ("it", "Ciao Dana, l'ordine 1001 arriverà il 12 Marzo 2026.", "ltr"),
        ("he", "שלום Dana, ההזמנה 1001 תגיע ב-12 במרץ 2026.", "rtl"),
    ],
)
def test_templates_render_in_the_customers_language_and_time_zone(
    workspace: Any, delayed_rule: Any, customer: Any, locale: str, expected: str, direction: str
) -> None:
    customer.locale = locale
    customer.timezone = "Asia/Jerusalem"
    customer.save()
    order = OrderFactory(customer=customer, workspace=workspace, external_id="1001")
    template = services.template_for(
        workspace_id=workspace.pk, key="order-delayed", channel="api", language=locale
    )
    # 23:30 UTC on the 11th is already the 12th in Jerusalem.
    rendered = templates_render.render(
        body=template.body,
        subject=template.subject,
        customer=customer,
        order=order,
        event_payload={"new_date": "2026-03-11T23:30:00+00:00"},
    )
    assert rendered.text == expected
    assert f'dir="{direction}"' in rendered.html
    assert f'lang="{locale}"' in rendered.html


def test_conditional_blocks_render_and_dangerous_tags_are_refused(workspace: Any) -> None:
    customer = CustomerFactory(workspace=workspace, name="Noa", value_tier="gold", locale="en")
    rendered = templates_render.render(
        body="{% if value_tier == 'gold' %}Thanks, {{ name }}!{% else %}Hello{% endif %}",
        subject="",
        customer=customer,
        order=None,
        event_payload={},
    )
    assert rendered.text == "Thanks, Noa!"
    for source in ("{% debug %}", "{% include 'x.html' %}", "{% load static %}", "{% if %}"):
        with pytest.raises(ValidationFailed):
            services.template_upsert(
                workspace=workspace, actor=SYSTEM, key="k", language="en", body=source
            )


def _event(workspace: Any, customer: Any, external_id: str = "e1") -> Any:
    event, _ = services.event_ingest(
        workspace=workspace,
        data=services.EventInput(
            external_id=external_id,
            type="order.delayed",
            customer=services.CustomerRef(id=customer.pk),
            order=services.OrderRef(
                external_id="1001", total=Decimal("10"), currency="EUR", status="delayed"
            ),
            payload={"new_date": "2026-03-12"},
        ),
        actor=SYSTEM,
    )
    return event


def test_a_redelivered_event_sends_once(
    workspace: Any, delayed_rule: Any, customer: Any, no_quiet_hours: None
) -> None:
    event = _event(workspace, customer)
    again, created = services.event_ingest(
        workspace=workspace,
        data=services.EventInput(
            external_id="e1", type="order.delayed", customer=services.CustomerRef(id=customer.pk)
        ),
        actor=SYSTEM,
    )
    assert not created
    assert again.pk == event.pk
    first = services.event_process(event=event, actor=SYSTEM)
    second = services.event_process(event=event, actor=SYSTEM)
    assert [s.status for s in first] == [Send.Status.SENT]
    assert second == []
    assert Message.objects.filter(conversation__customer=customer).count() == 1


def test_revoked_service_consent_skips_the_send_with_the_reason(
    workspace: Any, delayed_rule: Any, customer: Any, no_quiet_hours: None
) -> None:
    customer_services.consent_set(
        customer=customer, purpose="service", channel="any", granted=False, actor=SYSTEM
    )
    (send,) = services.event_process(event=_event(workspace, customer), actor=SYSTEM)
    assert send.status == Send.Status.SKIPPED
    assert "consent" in send.reason
    assert not Message.objects.filter(conversation__customer=customer).exists()


def test_marketing_needs_a_grant(workspace: Any, customer: Any) -> None:
    assert guards.consent_allows(customer=customer, purpose="service", channel="email")
    assert not guards.consent_allows(customer=customer, purpose="marketing", channel="email")
    customer_services.consent_set(
        customer=customer, purpose="marketing", channel="any", granted=True, actor=SYSTEM
    )
    assert guards.consent_allows(customer=customer, purpose="marketing", channel="email")
    customer_services.consent_set(
        customer=customer, purpose="marketing", channel="email", granted=False, actor=SYSTEM
    )
    assert not guards.consent_allows(customer=customer, purpose="marketing", channel="email")
    assert guards.consent_allows(customer=customer, purpose="marketing", channel="sms")


def test_quiet_hours_defer_to_their_end_in_the_customers_zone_then_send(
    workspace: Any, delayed_rule: Any, customer: Any
) -> None:
    event = _event(workspace, customer)
    send = Send.objects.create(
        workspace=workspace, rule=delayed_rule, event=event, customer=customer
    )
    # 22:30 in Rome (CET, UTC+1) is inside the default 21:00-08:00 quiet hours.
    late = dt.datetime(2026, 1, 15, 21, 30, tzinfo=dt.UTC)
    services.send_attempt(send=send, actor=SYSTEM, at=late)
    assert send.status == Send.Status.SCHEDULED
    assert send.scheduled_for == dt.datetime(2026, 1, 16, 7, 0, tzinfo=dt.UTC)
    assert services.sends_due(actor=SYSTEM, now=late + dt.timedelta(hours=1)) == 0
    assert services.sends_due(actor=SYSTEM, now=dt.datetime(2026, 1, 16, 7, 1, tzinfo=dt.UTC)) == 1
    send.refresh_from_db()
    assert send.status == Send.Status.SENT


def test_the_frequency_cap_counts_every_rule(
    workspace: Any, delayed_rule: Any, customer: Any, no_quiet_hours: None, admin_user: Any
) -> None:
    config = guards.settings_for(workspace.pk)
    config.cap_count = 1
    config.save()
    services.event_process(event=_event(workspace, customer, "a"), actor=SYSTEM)
    (capped,) = services.event_process(event=_event(workspace, customer, "b"), actor=SYSTEM)
    assert capped.status == Send.Status.SKIPPED
    assert capped.reason == "Frequency cap reached."


def test_a_send_that_keeps_failing_ends_failed_and_visible(
    workspace: Any, delayed_rule: Any, customer: Any, no_quiet_hours: None
) -> None:
    delayed_rule.owner = None  # nobody to send in the name of: every attempt fails
    delayed_rule.save()
    (send,) = services.event_process(event=_event(workspace, customer), actor=SYSTEM)
    assert send.status == Send.Status.SCHEDULED
    assert send.attempts == 1
    later = send.scheduled_for
    for _ in range(2):
        later = later + dt.timedelta(hours=1)
        services.sends_due(actor=SYSTEM, now=later)
    send.refresh_from_db()
    assert send.status == Send.Status.FAILED
    assert send.attempts == 3
    assert "owner" in send.last_error


def test_stop_keyword_revokes_marketing_consent_at_once(
    workspace: Any, inbox: Any, customer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from ascolto.connectors.api_channel import services as api_channel_services

    with django_capture_on_commit_callbacks(execute=True):
        api_channel_services.message_ingest(
            inbox=inbox,
            item=api_channel_services.IngestItem(
                provider_id="m1",
                identity_kind="email",
                identity_value="dana@example.com",
                text="STOP",
            ),
            actor=SYSTEM,
        )
    consent = Consent.objects.get(customer=customer, purpose="marketing")
    assert consent.granted is False
    assert "STOP" in consent.source


def test_in_a_batch_only_a_message_that_is_a_stop_word_revokes_consent(
    workspace: Any, inbox: Any
) -> None:
    from ascolto.connectors.api_channel import services as api_channel_services
    from ascolto.core.models import OutboxEvent
    from ascolto.engagement.handlers import honour_stop_keyword

    texts = {"ada@example.com": "Stop.", "bo@example.com": "Please don't stop the delivery"}
    for address, text in texts.items():
        api_channel_services.message_ingest(
            inbox=inbox,
            item=api_channel_services.IngestItem(
                provider_id=address, identity_kind="email", identity_value=address, text=text
            ),
            actor=SYSTEM,
        )
    honour_stop_keyword(list(OutboxEvent.objects.filter(name="inbox.message.received")))
    revoked = Consent.objects.filter(purpose="marketing", granted=False)
    assert [c.customer.identities.get().value for c in revoked] == ["ada@example.com"]


def test_batch_matching_agrees_with_one_by_one_and_keeps_workspaces_apart(
    workspace: Any, other_workspace: Any, delayed_rule: Any, customer: Any
) -> None:
    services.rule_create(
        workspace=other_workspace,
        actor=SYSTEM,
        name="Elsewhere",
        trigger="order.delayed",
        actions=[{"type": "add_tag", "tag": "late"}],
    )
    services.rule_create(
        workspace=workspace,
        actor=SYSTEM,
        name="Gold only",
        trigger="order.delayed",
        conditions={"field": "customer.value_tier", "op": "eq", "value": "platinum"},
        actions=[{"type": "add_tag", "tag": "vip"}],
    )
    outsider = CustomerFactory(workspace=other_workspace)
    events = [_event(workspace, customer, "x1"), _event(other_workspace, outsider, "x2")]
    batch = services.matching_rules_batch(events)
    for event in events:
        assert [r.pk for r in batch[event.pk]] == [r.pk for r in services.matching_rules(event)]
    assert [r.name for r in batch[events[0].pk]] == ["Tell about delays"]
    assert [r.name for r in batch[events[1].pk]] == ["Elsewhere"]
