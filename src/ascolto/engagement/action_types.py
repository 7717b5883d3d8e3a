"""The action types a rule can run, in one place: the API's validation, the rule builder's
pickers and the docs all read this registry, so a new type is one entry here (plus its runner
in `services.plan`/`_deliver`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Param:
    name: str
    label: str | Promise
    required: bool = True
    number: bool = False  # a whole number (an id, a count of days)


@dataclass(frozen=True)
class ActionType:
    name: str
    label: str | Promise
    params: tuple[Param, ...]


ACTIONS: dict[str, ActionType] = {
    a.name: a
    for a in (
        ActionType(
            "send_message",
            _("Send a message"),
            (Param("template", _("Template key")),),
        ),
        ActionType("add_tag", _("Tag the conversation"), (Param("tag", _("Tag")),)),
        ActionType(
            "set_attribute",
            _("Set a customer attribute"),
            (Param("key", _("Attribute key")), Param("value", _("Value"), False)),
        ),
        ActionType(
            "create_conversation",
            _("Open a follow-up conversation"),
            (
                Param("inbox", _("Inbox id"), number=True),
                Param("subject", _("Subject")),
                Param("note", _("Internal note"), False),
                Param("team", _("Team id"), False, number=True),
                Param("assignee", _("Agent id"), False, number=True),
                Param("due_in_days", _("Due in days"), False, number=True),
            ),
        ),
        ActionType("call_webhook", _("Call a webhook"), (Param("url", _("HTTPS address")),)),
    )
}
