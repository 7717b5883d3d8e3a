"""Message templates on WhatsApp outside the 24-hour window: the approved template instead.

A MessageTemplate may carry `whatsapp = {"name": "order_delayed", "language": "it",
"variables": ["{{ first_name }}", "{{ order.number }}"]}`: the name and language of a template
approved by WhatsApp (connectors.meta's WhatsAppTemplate, synced or created through
/api/v1/whatsapp/templates) and, in order, what fills its {{1}}, {{2}}... written in our
template syntax. When the customer last wrote to the WhatsApp inbox more than 24 hours ago (or
never), the send goes out as that template through the connector's `template_send`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ascolto.accounts.models import User
from ascolto.connectors.meta import services as meta_services
from ascolto.connectors.meta.models import MetaAccount, WhatsAppTemplate
from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.customers.models import Customer, Order
from ascolto.engagement import templates_render
from ascolto.engagement.models import MessageTemplate
from ascolto.inbox.models import Channel, Conversation, Inbox, Message

MAX_VARIABLES = 20


def validate_mapping(mapping: Any) -> dict[str, Any]:
    """The normalised mapping ({} for none); ValidationFailed names the path
    (`whatsapp.variables.1`)."""
    if mapping is None or mapping == {}:
        return {}
    if not isinstance(mapping, dict):
        raise ValidationFailed(
            "The WhatsApp template mapping is not valid.",
            field_errors={"whatsapp": ["Expected an object."]},
        )
    errors: dict[str, list[str]] = {}
    for key in sorted(set(mapping) - {"name", "language", "variables"}):
        errors[f"whatsapp.{key}"] = ["Unknown setting; use name, language, variables."]
    name, language = mapping.get("name"), mapping.get("language")
    if not isinstance(name, str) or not name.strip() or len(name) > 512:
        errors["whatsapp.name"] = ["The name of the approved WhatsApp template."]
    if not isinstance(language, str) or not 2 <= len(language) <= 15:
        errors["whatsapp.language"] = ["Its language code, such as en or pt_BR."]
    variables = mapping.get("variables", [])
    if not isinstance(variables, list) or len(variables) > MAX_VARIABLES:
        errors["whatsapp.variables"] = [f"A list of at most {MAX_VARIABLES} texts, in order."]
        variables = []
    for i, text in enumerate(variables):
        if not isinstance(text, str):
            errors[f"whatsapp.variables.{i}"] = ["Text in the template syntax."]
            continue
        try:
            templates_render.check_template(text, field=f"whatsapp.variables.{i}")
        except ValidationFailed as exc:
            errors.update(exc.field_errors or {})
    if errors:
        raise ValidationFailed("The WhatsApp template mapping is not valid.", field_errors=errors)
    return {"name": str(name).strip(), "language": str(language), "variables": list(variables)}


def send(*, conversation: Conversation, choice: Choice, author: User, actor: Actor) -> Message:
    """Send the chosen approved template through the WhatsApp connector."""
    assert choice.template is not None
    return meta_services.template_send(
        conversation=conversation,
        template=choice.template,
        values=choice.values,
        author=author,
        actor=actor,
    )


@dataclass
class Choice:
    """The approved template a send would use, its values, or why it cannot."""

    name: str
    language: str
    template: WhatsAppTemplate | None = None
    values: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "template_id": self.template.pk if self.template else None,
            "parameters": list(self.values.values()),
            "error": self.error,
        }


def window_open(*, inbox: Inbox, customer: Customer) -> bool:
    latest = (
        Conversation.objects.filter(inbox=inbox, customer=customer, merged_into__isnull=True)
        .order_by("-last_message_at", "-id")
        .first()
    )
    return latest is not None and meta_services.whatsapp_window_open(conversation=latest)


def choose(
    *,
    template: MessageTemplate,
    inbox: Inbox,
    customer: Customer,
    order: Order | None,
    payload: dict[str, Any],
) -> Choice | None:
    """The approved template to send instead of free text, or None when free text may go (not
    WhatsApp, no mapping, a Meta account-less inbox, or the window is open)."""
    mapping = template.whatsapp or {}
    if inbox.channel != Channel.WHATSAPP or not mapping:
        return None
    account = MetaAccount.objects.filter(inbox=inbox).first()
    if account is None or window_open(inbox=inbox, customer=customer):
        return None
    choice = Choice(name=mapping["name"], language=mapping["language"])
    choice.template = WhatsAppTemplate.objects.filter(
        account=account, name=choice.name, language=choice.language
    ).first()
    if choice.template is None:
        choice.error = f"No approved WhatsApp template {choice.name!r} in {choice.language}."
        return choice
    texts = mapping.get("variables", [])
    names = list(choice.template.variables)
    if len(texts) != len(names):
        choice.error = (
            f"The WhatsApp template {choice.name!r} has {len(names)} variables; "
            f"the mapping gives {len(texts)}."
        )
        return choice
    for name, text in zip(names, texts, strict=True):
        rendered = templates_render.render(
            body=text, subject="", customer=customer, order=order, event_payload=payload
        )
        choice.values[name] = rendered.text or "-"
    return choice
