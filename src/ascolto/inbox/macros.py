"""Macros: templated replies with actions, for the agent console and any other caller.

A macro's body is a Django template restricted to a fixed set of variables (MACRO_VARIABLES)
and a few harmless filters; tags (`{% ... %}`) are refused, so a body can neither load
libraries, include files, print the context (`{% debug %}`) nor reach attributes beyond the
plain dictionaries built here. Variables are autoescaped: the HTML rendering is safe to show,
and the plain text the composer receives is derived from it.

Actions (`Macro.actions`, a JSON object), each optional:
- "status": open, pending, resolved or closed (snoozing needs a time, so it is not a macro action);
- "priority": 0 (low) to 3 (urgent);
- "tags": names added to the conversation's tags;
- "team_id": a team of the workspace the conversation is handed to.

A running `macro_wording` experiment on a macro (analytics.experiments) gives each conversation
its variant's text: `macro_body_for` reads it for the preview without recording anything, and
`macro_apply` records the conversation's exposure and uses that text.

A personal macro (with an owner) is seen and edited by its owner only; a shared one (no owner)
by everyone, edited by admins. Writes follow GUIDE §2: the caller owns the transaction, so
`macro_apply` (reply plus actions) is all-or-nothing inside the caller's `transaction.atomic`.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import FilterExpression, Node, TextNode, Variable, VariableNode
from django.template.defaulttags import CommentNode
from django.utils import translation
from django.utils.translation import gettext as _

from ascolto.accounts.models import Team, User
from ascolto.accounts.selectors import has_permission
from ascolto.analytics.experiments.services import experiment_payload
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import Forbidden, NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.sanitize import html_to_text, sanitize_html
from ascolto.customers.models import Customer, Order
from ascolto.inbox import services
from ascolto.inbox.models import Conversation, Macro, Message

MACRO_VARIABLES = (
    "customer.name",
    "customer.first_name",
    "last_order.external_id",
    "last_order.status",
    "agent.name",
)
ALLOWED_FILTERS = frozenset({"default", "upper", "lower", "title", "capfirst"})
ACTION_STATUSES = (
    Conversation.Status.OPEN,
    Conversation.Status.PENDING,
    Conversation.Status.RESOLVED,
    Conversation.Status.CLOSED,
)
ACTION_KEYS = frozenset({"status", "priority", "tags", "team_id"})
MAX_NAME = 120
MAX_BODY = 10_000
MAX_TAGS = 20

# No loaders, no libraries: `{% include %}` and `{% load %}` could not work even if a tag got
# through the node check below. Unknown variables render as nothing.
_ENGINE = Engine(loaders=[], libraries={}, autoescape=True, string_if_invalid="")


@dataclass(frozen=True)
class MacroActions:
    status: str | None = None
    priority: int | None = None
    tags: tuple[str, ...] = ()
    team_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.status:
            data["status"] = self.status
        if self.priority is not None:
            data["priority"] = self.priority
        if self.tags:
            data["tags"] = list(self.tags)
        if self.team_id is not None:
            data["team_id"] = self.team_id
        return data

    def __bool__(self) -> bool:
        return bool(self.as_json())


@dataclass(frozen=True)
class RenderedMacro:
    """`html`: the body with escaped variables, sanitised; `text`: its plain-text form."""

    html: str
    text: str


@dataclass
class MacroResult:
    message: Message | None
    conversation: Conversation
    applied: list[str] = field(default_factory=list)


# --- Parsing and checking ----------------------------------------------------------------------


def _invalid(message: str, field_name: str) -> ValidationFailed:
    return ValidationFailed(message, field_errors={field_name: [message]})


def _check_filter(expression: FilterExpression) -> None:
    for func, args in expression.filters:
        name = getattr(func, "__name__", "")
        if name not in ALLOWED_FILTERS:
            raise _invalid(
                _("The filter “%(name)s” cannot be used in a macro.") % {"name": name}, "body"
            )
        if any(lookup for lookup, _arg in args):
            raise _invalid(_("Filter arguments in a macro must be plain text."), "body")


def _check_node(node: Node) -> None:
    if isinstance(node, TextNode | CommentNode):
        return
    if isinstance(node, VariableNode):
        expression = node.filter_expression
        variable = expression.var
        if not isinstance(variable, Variable) or variable.literal is not None:
            raise _invalid(_("A macro shows variables, not constants."), "body")
        if variable.var not in MACRO_VARIABLES:
            raise _invalid(
                _("Unknown variable “%(name)s”. Use one of: %(allowed)s.")
                % {"name": variable.var, "allowed": ", ".join(MACRO_VARIABLES)},
                "body",
            )
        _check_filter(expression)
        return
    raise _invalid(_("Macros take variables only, no {% … %} tags."), "body")


def validate_body(body: str) -> str:
    """The body if it is a valid macro template; ValidationFailed naming the problem otherwise."""
    if len(body) > MAX_BODY:
        raise _invalid(_("A macro is at most %(n)s characters.") % {"n": MAX_BODY}, "body")
    try:
        template = _ENGINE.from_string(body)
    except TemplateSyntaxError as exc:
        raise _invalid(
            _("The macro's template is not valid: %(error)s") % {"error": str(exc)}, "body"
        ) from None
    for node in template.nodelist:
        _check_node(node)
    return body


def _team_of(workspace_id: int, team_id: object) -> Team:
    if not isinstance(team_id, int) or isinstance(team_id, bool):
        raise _invalid(_("Choose a team of this workspace."), "team_id")
    team = Team.objects.filter(workspace_id=workspace_id, pk=team_id).first()
    if team is None:
        raise _invalid(_("Choose a team of this workspace."), "team_id")
    return team


def parse_actions(raw: object, *, workspace_id: int) -> MacroActions:
    """Validate a macro's actions (a JSON object, see the module docstring)."""
    if raw in (None, ""):
        return MacroActions()
    if not isinstance(raw, dict):
        raise _invalid(_("A macro's actions are an object."), "actions")
    unknown = sorted(set(raw) - ACTION_KEYS)
    if unknown:
        raise _invalid(
            _("Unknown macro actions: %(names)s.") % {"names": ", ".join(map(str, unknown))},
            "actions",
        )
    status = raw.get("status") or None
    if status is not None and status not in ACTION_STATUSES:
        raise _invalid(_("A macro sets the status to open, pending, resolved or closed."), "status")
    priority = raw.get("priority")
    if priority is not None and (
        not isinstance(priority, int)
        or isinstance(priority, bool)
        or priority not in Conversation.Priority.values
    ):
        raise _invalid(_("The priority is a number from 0 (low) to 3 (urgent)."), "priority")
    tags_raw = raw.get("tags") or []
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
        raise _invalid(_("Tags are a list of names."), "tags")
    tags = tuple(sorted({t.strip().lower()[:60] for t in tags_raw if t.strip()}))
    if len(tags) > MAX_TAGS:
        raise _invalid(_("A macro adds at most %(n)s tags.") % {"n": MAX_TAGS}, "tags")
    team_id = raw.get("team_id")
    if team_id is not None:
        _team_of(workspace_id, team_id)
    return MacroActions(status=status, priority=priority, tags=tags, team_id=team_id)


def describe_actions(actions: MacroActions, *, teams: dict[int, str] | None = None) -> list[str]:
    """What applying the actions will do, in the active language (the composer lists it)."""
    lines: list[str] = []
    if actions.tags:
        lines.append(_("Add tags: %(tags)s") % {"tags": ", ".join(actions.tags)})
    if actions.priority is not None:
        lines.append(
            _("Set priority to %(priority)s")
            % {"priority": Conversation.Priority(actions.priority).label}
        )
    if actions.team_id is not None:
        name = (teams or {}).get(actions.team_id) or f"#{actions.team_id}"
        lines.append(_("Hand over to the team %(team)s") % {"team": name})
    if actions.status:
        lines.append(
            _("Set status to %(status)s") % {"status": Conversation.Status(actions.status).label}
        )
    return lines


# --- Reads -------------------------------------------------------------------------------------


def macros_for(*, workspace: Workspace, user: User) -> list[Macro]:
    """The macros a member may use: the workspace's shared ones and their own, by name."""
    return list(
        Macro.objects.filter(workspace=workspace)
        .filter(Q(owner__isnull=True) | Q(owner=user))
        .order_by("name", "pk")
    )


def macro_get(*, workspace: Workspace, user: User, macro_id: int) -> Macro:
    """A macro the user may use; another member's personal macro is NotFound like a missing one."""
    macro = (
        Macro.objects.filter(workspace=workspace, pk=macro_id)
        .filter(Q(owner__isnull=True) | Q(owner=user))
        .first()
    )
    if macro is None:
        raise NotFound(_("No such macro."))
    return macro


# --- Writes ------------------------------------------------------------------------------------


def _can_edit(
    workspace: Workspace, user: User | None, *, shared: bool, owner_id: int | None
) -> bool:
    if user is None:
        return False
    if shared:
        return has_permission(user=user, workspace=workspace, permission="admin")
    return owner_id == user.pk and has_permission(
        user=user, workspace=workspace, permission="write"
    )


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise _invalid(_("Give the macro a name."), "name")
    if len(name) > MAX_NAME:
        raise _invalid(_("A name is at most %(n)s characters.") % {"n": MAX_NAME}, "name")
    return name


def macro_create(
    *,
    workspace: Workspace,
    actor: Actor,
    name: str,
    body: str,
    actions: object = None,
    shared: bool = False,
) -> Macro:
    """A personal macro of the actor, or a shared one (admins). Raises ValidationFailed for a
    bad name, body or actions; Forbidden when the actor may not create it."""
    if not _can_edit(workspace, actor.user, shared=shared, owner_id=actor.user_id):
        raise Forbidden(_("Only admins create shared macros."))
    clean_name = _clean_name(name)
    validate_body(body)
    parsed = parse_actions(actions, workspace_id=workspace.pk)
    if not body.strip() and not parsed:
        raise _invalid(_("A macro needs a reply, actions, or both."), "body")
    macro = Macro.objects.create(
        workspace=workspace,
        name=clean_name,
        body=body,
        actions=parsed.as_json(),
        owner=None if shared else actor.user,
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="macro.create",
        object_type="macro",
        object_id=macro.pk,
        changes={"name": macro.name, "shared": shared},
    )
    return macro


def macro_update(
    *, macro: Macro, actor: Actor, name: str, body: str, actions: object = None
) -> Macro:
    """Change a macro's name, body and actions (its owner, or an admin for a shared one)."""
    workspace = macro.workspace
    if not _can_edit(workspace, actor.user, shared=macro.owner_id is None, owner_id=macro.owner_id):
        raise Forbidden(_("You cannot change this macro."))
    clean_name = _clean_name(name)
    validate_body(body)
    parsed = parse_actions(actions, workspace_id=macro.workspace_id)
    if not body.strip() and not parsed:
        raise _invalid(_("A macro needs a reply, actions, or both."), "body")
    before = {"name": macro.name, "body": macro.body, "actions": macro.actions}
    macro.name, macro.body, macro.actions = clean_name, body, parsed.as_json()
    macro.save(update_fields=["name", "body", "actions", "updated_at"])
    after = {"name": macro.name, "body": macro.body, "actions": macro.actions}
    audit_record(
        workspace=workspace,
        actor=actor,
        action="macro.update",
        object_type="macro",
        object_id=macro.pk,
        changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
    )
    return macro


def macro_delete(*, macro: Macro, actor: Actor) -> None:
    workspace = macro.workspace
    if not _can_edit(workspace, actor.user, shared=macro.owner_id is None, owner_id=macro.owner_id):
        raise Forbidden(_("You cannot delete this macro."))
    audit_record(
        workspace=workspace,
        actor=actor,
        action="macro.delete",
        object_type="macro",
        object_id=macro.pk,
        changes={"name": macro.name},
    )
    macro.delete()


# --- Rendering and applying --------------------------------------------------------------------


def _first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else ""


def _agent_name(agent: User) -> str:
    return agent.first_name or agent.get_full_name() or agent.get_username()


def macro_context(*, customer: Customer, agent: User) -> dict[str, dict[str, str]]:
    """The only values a macro can show: plain strings in plain dictionaries."""
    last_order = (
        Order.objects.filter(workspace_id=customer.workspace_id, customer=customer)
        .order_by("-placed_at", "-pk")
        .first()
    )
    return {
        "customer": {"name": customer.name, "first_name": _first_name(customer.name)},
        "last_order": {
            "external_id": last_order.external_id if last_order else "",
            "status": str(last_order.get_status_display()) if last_order else "",
        },
        "agent": {"name": _agent_name(agent)},
    }


def _customer_language(customer: Customer) -> str | None:
    code = (customer.locale or "").split("-")[0].lower()
    return code if code in dict(settings.LANGUAGES) else None


def macro_render(*, body: str, customer: Customer, agent: User) -> RenderedMacro:
    """Render a macro body for a customer, in the customer's language (an order status reads
    "Spedito" to an Italian customer). Raises ValidationFailed for an invalid body."""
    template = _ENGINE.from_string(validate_body(body))
    language = _customer_language(customer)
    with translation.override(language) if language else nullcontext():
        data = macro_context(customer=customer, agent=agent)
    rendered = template.render(Context(data, autoescape=True))
    html = sanitize_html(rendered)
    text = html_to_text(html)
    return RenderedMacro(html=html, text=_tidy(text))


def _tidy(text: str) -> str:
    return re.sub(r"[ \t]+\n", "\n", text).strip()


MACRO_LEVER = "macro_wording"


def macro_body_for(*, macro: Macro, conversation: Conversation, record: bool = False) -> str:
    """The body the macro shows in this conversation: the variant's text when a
    `macro_wording` experiment runs on the macro (recording the conversation's exposure when
    `record`), else the macro's own body."""
    payload = experiment_payload(
        workspace_id=conversation.workspace_id,
        lever=MACRO_LEVER,
        conversation_id=conversation.pk,
        customer_id=conversation.customer_id,
        scope=macro.pk,
        record=record,
    )
    body = (payload or {}).get("body")
    return body if isinstance(body, str) and body.strip() else macro.body


def macro_apply(
    *,
    macro: Macro,
    conversation: Conversation,
    agent: User,
    actor: Actor,
    text: str | None = None,
) -> MacroResult:
    """Reply with the macro (or with `text`, the agent's edit of it) and run its actions: tags,
    priority, team, then status, so a "reply and resolve" macro resolves after replying. The
    text is the experiment variant's when a `macro_wording` experiment runs on the macro
    (`macro_body_for`); the conversation's exposure is recorded either way.

    Everything is validated before anything is written; run it inside `transaction.atomic`,
    which makes the reply and the actions one change (a failing action undoes the reply).
    """
    actions = parse_actions(macro.actions, workspace_id=conversation.workspace_id)
    team = _team_of(conversation.workspace_id, actions.team_id) if actions.team_id else None
    body = macro_body_for(macro=macro, conversation=conversation, record=True)
    if text is None:
        text = macro_render(body=body, customer=conversation.customer, agent=agent).text
    message = None
    applied: list[str] = []
    if text.strip():
        message = services.message_send(
            conversation=conversation, author=agent, actor=actor, text=text
        )
        conversation.refresh_from_db()
    if actions.tags:
        current = list(conversation.tags.values_list("name", flat=True))
        services.conversation_set_tags(
            conversation=conversation, names=[*current, *actions.tags], actor=actor
        )
        applied.append("tags")
    if actions.priority is not None:
        conversation = services.conversation_set_priority(
            conversation=conversation, priority=actions.priority, actor=actor, reason=macro.name
        )
        applied.append("priority")
    if team is not None:
        assignee = conversation.assignee if conversation.team_id == team.pk else None
        conversation = services.conversation_assign(
            conversation=conversation, actor=actor, assignee=assignee, team=team, reason=macro.name
        )
        applied.append("team")
    if actions.status:
        conversation = services.conversation_set_status(
            conversation=conversation, status=actions.status, actor=actor, reason=macro.name
        )
        applied.append("status")
    return MacroResult(message=message, conversation=conversation, applied=applied)
