"""Helpers that build surveys, consenting customers and sent invitations through the services."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.models import OutboxEvent
from ascolto.customers import services as customer_services
from ascolto.customers.models import Customer
from ascolto.surveys import services
from ascolto.surveys.models import Invitation, Survey
from tests.customers.factories import CustomerFactory, IdentityFactory

SYSTEM = Actor.system("tests")


def make_survey(workspace: Any, kind: str = "nps", **fields: Any) -> Survey:
    fields.setdefault("name", f"{kind.upper()} survey")
    fields.setdefault("touchpoint", "support")
    fields.setdefault("title", "Tell us how we did")
    fields.setdefault("thanks", "Thanks for telling us.")
    fields.setdefault(
        "translations",
        {
            "it": {"title": "Dicci come è andata", "thanks": "Grazie!"},
            "he": {"title": "ספרו לנו איך היה", "thanks": "תודה!"},
        },
    )
    return services.survey_create(workspace=workspace, actor=SYSTEM, kind=kind, **fields)


def consenting_customer(
    workspace: Any,
    *,
    locale: str = "en",
    email: str | None = "",
    consent: bool = True,
    **fields: Any,
) -> Customer:
    """A customer with an email identity (unless email=None) and survey consent on email."""
    customer = CustomerFactory(workspace=workspace, locale=locale, **fields)
    if email is not None:
        IdentityFactory(
            customer=customer,
            workspace=workspace,
            is_primary=True,
            **({"value": email} if email else {}),
        )
    if consent:
        customer_services.consent_set(
            customer=customer, purpose="surveys", channel="email", granted=True, actor=SYSTEM
        )
    return customer


def sent_invitation(
    survey: Survey, customer: Customer, *, source_key: str = "", channel: str = "email"
) -> tuple[Invitation, str]:
    """An invitation with a link issued (as if sent): (invitation, token)."""
    invitation = services.invitation_create(
        survey=survey, customer=customer, source_key=source_key, channel=channel
    )
    assert invitation.status == "scheduled", invitation.skip_reason
    token = services.invitation_issue_link(invitation=invitation)
    Invitation.objects.filter(pk=invitation.pk).update(status="sent", sent_at=timezone.now())
    invitation.refresh_from_db()
    return invitation, token


def dispatch_pending() -> list[str]:
    """Run the handlers of every event not dispatched yet (as the worker would after commit),
    until none is left. Returns the names of the events dispatched, in order."""
    names: list[str] = []
    while True:
        pending = list(OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("id"))
        if not pending:
            return names
        for event in pending:
            ok = outbox.dispatch_event(event.pk)
            event.refresh_from_db()
            assert ok, event.last_error
            names.append(event.name)
