"""Message templates: Django's template language in a sandbox, with the customer's locale.

Templates are written by workspace admins, so they run in an Engine of their own: no loaders
(no include/extends), no libraries to load, only the tags in ALLOWED_TAGS, and a context made
of plain dicts, lists and strings (no model instances, so no method can be reached). Dates are
formatted in the customer's language and time zone; Hebrew email HTML is right-to-left.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Lexer, TokenType
from django.utils import formats, translation
from django.utils.html import escape, linebreaks

from ascolto.core.errors import ValidationFailed
from ascolto.customers.models import Customer, Order
from ascolto.recommendations import template_vars

ALLOWED_TAGS = frozenset(
    {"if", "elif", "else", "endif", "for", "empty", "endfor", "with", "endwith", "firstof"}
)
RTL_LANGUAGES = frozenset({"he", "ar", "fa", "ur"})
MAX_TEMPLATE = 20_000

_engine = Engine(loaders=[], libraries={}, autoescape=False, debug=False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str


def check_template(source: str, *, field: str = "body") -> None:
    """Raise ValidationFailed when the source is too long, uses a tag outside ALLOWED_TAGS or
    does not parse."""
    if len(source) > MAX_TEMPLATE:
        raise ValidationFailed(
            "The template is too long.", field_errors={field: [f"At most {MAX_TEMPLATE} chars."]}
        )
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            tag = token.contents.split()[0] if token.contents.split() else ""
            if tag not in ALLOWED_TAGS:
                raise ValidationFailed(
                    "The template uses a tag that templates may not use.",
                    field_errors={field: [f"Not allowed: {tag or '{% %}'}."]},
                )
    try:
        _engine.from_string(source)
    except TemplateSyntaxError as exc:
        raise ValidationFailed(
            "The template does not parse.", field_errors={field: [str(exc)]}
        ) from exc


def customer_zone(customer: Customer) -> zoneinfo.ZoneInfo:
    for name in (customer.timezone, customer.workspace.timezone, "UTC"):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def customer_language(customer: Customer) -> str:
    return (customer.locale or customer.workspace.default_locale or "en").split("-")[0].lower()


def _date(value: Any, zone: zoneinfo.ZoneInfo) -> str:
    """A date in the active language: "12 marzo 2026" in Italian, "March 12, 2026" in English."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(zone).date()
    if isinstance(value, dt.date):
        return str(formats.date_format(value, "DATE_FORMAT"))
    return ""


def _order_vars(order: Order | None, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    if order is None:
        return {}
    return {
        "number": order.external_id,
        "status": order.get_status_display(),
        "total": str(formats.number_format(order.total, 2)),
        "currency": order.currency,
        "placed_on": _date(order.placed_at, zone),
        "promised_on": _date(order.promised_at, zone),
        "items": [line.name for line in order.lines.all()] if order.pk else [],
    }


def render_context(
    *, customer: Customer, order: Order | None, event_payload: dict[str, Any], language: str
) -> dict[str, Any]:
    """The variables a template sees; build it inside translation.override(language)."""
    zone = customer_zone(customer)
    last_order = order or customer.orders.order_by("-placed_at").first()
    payload = {k: v for k, v in event_payload.items() if isinstance(k, str)}
    new_date = payload.get("new_date") or payload.get("promised_at")
    return {
        "name": customer.name,
        "first_name": customer.name.split(" ")[0] if customer.name else "",
        "language": language,
        "value_tier": customer.value_tier,
        "attributes": dict(customer.attributes or {}),
        "order": _order_vars(order, zone),
        "last_order": _order_vars(last_order, zone),
        "event": payload,
        "new_date": _date(new_date, zone) if new_date else "",
        "recommendations": template_vars.recommendations_variable(customer),
        "replenishment_due": template_vars.replenishment_variable(customer),
    }


def render(
    *,
    body: str,
    subject: str,
    customer: Customer,
    order: Order | None,
    event_payload: dict[str, Any],
) -> Rendered:
    """Render a template for a customer: text, and email HTML with the language's direction."""
    language = customer_language(customer)
    with translation.override(language):
        context = Context(
            render_context(
                customer=customer, order=order, event_payload=event_payload, language=language
            ),
            autoescape=False,
        )
        text = _engine.from_string(body).render(context).strip()
        rendered_subject = _engine.from_string(subject).render(context).strip()
    direction = "rtl" if language in RTL_LANGUAGES else "ltr"
    html = (
        f'<!doctype html><html lang="{escape(language)}" dir="{direction}">'
        f'<body dir="{direction}" style="text-align:start">'
        f'<div dir="{direction}">{linebreaks(text, autoescape=True)}</div></body></html>'
    )
    return Rendered(subject=rendered_subject, text=text, html=html, language=language)
