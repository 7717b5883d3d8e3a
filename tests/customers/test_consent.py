import datetime as dt

import pytest

from ascolto.core.errors import ValidationFailed
from ascolto.customers import selectors, services
from ascolto.customers.models import Consent, ConsentChange


def test_consent_history_is_kept_and_current_state_is_the_latest(workspace, actor):
    customer = services.customer_create(workspace=workspace, actor=actor)
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

    services.consent_set(
        customer=customer,
        purpose="marketing",
        channel="email",
        granted=True,
        source="signup form",
        actor=actor,
        recorded_at=t0,
    )
    services.consent_set(
        customer=customer,
        purpose="marketing",
        channel="email",
        granted=False,
        source="unsubscribe link",
        actor=actor,
        recorded_at=t0 + dt.timedelta(days=3),
    )

    current = selectors.consent_current(customer=customer)
    assert [(c.purpose, c.channel, c.granted, c.source) for c in current] == [
        ("marketing", "email", False, "unsubscribe link")
    ]
    history = selectors.consent_history(customer=customer)
    assert [h.granted for h in history] == [False, True]
    assert Consent.objects.count() == 1
    assert ConsentChange.objects.count() == 2


def test_consent_allows_specific_channel_over_any(workspace, actor):
    customer = services.customer_create(workspace=workspace, actor=actor)
    services.consent_set(
        customer=customer, purpose="marketing", channel="any", granted=True, actor=actor
    )
    services.consent_set(
        customer=customer, purpose="marketing", channel="sms", granted=False, actor=actor
    )

    assert selectors.consent_allows(customer=customer, purpose="marketing", channel="email")
    assert not selectors.consent_allows(customer=customer, purpose="marketing", channel="sms")
    # No decision: service messages answer the customer, surveys and marketing need consent.
    assert selectors.consent_allows(customer=customer, purpose="service", channel="email")
    assert not selectors.consent_allows(customer=customer, purpose="surveys", channel="email")


def test_unknown_purpose_or_channel_is_refused(workspace, actor):
    customer = services.customer_create(workspace=workspace, actor=actor)
    with pytest.raises(ValidationFailed) as excinfo:
        services.consent_set(
            customer=customer, purpose="spam", channel="fax", granted=True, actor=actor
        )
    assert set(excinfo.value.field_errors) == {"purpose", "channel"}
    assert ConsentChange.objects.count() == 0
