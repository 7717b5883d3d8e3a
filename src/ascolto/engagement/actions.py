"""The actions of rules beside the message: open a follow-up conversation, call a webhook.

{"type": "create_conversation", "inbox": <inbox id>, "subject": "...", "note": "...",
 "team": <team id>, "assignee": <user id>, "due_in_days": 2}
    Opens (or reuses) the customer's active conversation in the inbox, writes the note as an
    internal note (in the template syntax), assigns it, and when no SLA policy applies sets its
    resolution due date: a follow-up task that shows in the inbox.
{"type": "call_webhook", "url": "https://..."}
    POSTs a JSON body about the rule, event and customer after commit, signed with the
    workspace's engagement secret (`X-Ascolto-Signature: sha256=<hex HMAC-SHA256 of the body>`),
    retried with backoff. Private, loopback and link-local addresses are refused unless
    settings.ENGAGEMENT_WEBHOOK_ALLOW_PRIVATE (tests, development) is true.

Each action's outcome is kept on the Send, in `action_results` by action index.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ascolto.accounts.models import Membership, Team, User
from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.engagement import guards, templates_render
from ascolto.engagement.models import Send
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation, Inbox

logger = logging.getLogger(__name__)

EXTRA_ACTION_TYPES = ("create_conversation", "call_webhook")
WEBHOOK_TIMEOUT = 10.0
WEBHOOK_MAX_ATTEMPTS = 5
# Waits before attempts 2, 3, 4 and 5.
WEBHOOK_BACKOFF = (
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(minutes=60),
)
MAX_DUE_DAYS = 365


def _allow_private() -> bool:
    return bool(getattr(settings, "ENGAGEMENT_WEBHOOK_ALLOW_PRIVATE", False))


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_action(kind: str, action: dict[str, Any], path: str) -> dict[str, list[str]]:
    """Shape errors of one extra action, by path (`actions.1.url`)."""
    errors: dict[str, list[str]] = {}
    if kind == "create_conversation":
        allowed = {"type", "inbox", "subject", "note", "team", "assignee", "due_in_days"}
        for key in sorted(set(action) - allowed):
            errors[f"{path}.{key}"] = ["Unknown setting."]
        if not _int(action.get("inbox")):
            errors[f"{path}.inbox"] = ["The id of an inbox."]
        subject = action.get("subject")
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 300:
            errors[f"{path}.subject"] = ["Required, at most 300 characters."]
        if not isinstance(action.get("note", ""), str):
            errors[f"{path}.note"] = ["Text."]
        for key in ("team", "assignee"):
            if action.get(key) is not None and not _int(action[key]):
                errors[f"{path}.{key}"] = ["An id, or leave it out."]
        due = action.get("due_in_days")
        if due is not None and (not _int(due) or not 0 <= due <= MAX_DUE_DAYS):
            errors[f"{path}.due_in_days"] = [f"Whole days from 0 to {MAX_DUE_DAYS}."]
    elif kind == "call_webhook":
        for key in sorted(set(action) - {"type", "url"}):
            errors[f"{path}.{key}"] = ["Unknown setting."]
        problem = url_problem(action.get("url"), resolve=False)
        if problem:
            errors[f"{path}.url"] = [problem]
    return errors


def check_references(*, workspace: Workspace, actions: list[dict[str, Any]]) -> None:
    """The inboxes, teams and agents the actions name exist in the workspace."""
    errors: dict[str, list[str]] = {}
    for i, action in enumerate(actions):
        if action.get("type") != "create_conversation":
            continue
        if not Inbox.objects.filter(workspace=workspace, pk=action["inbox"]).exists():
            errors[f"actions.{i}.inbox"] = ["No such inbox in this workspace."]
        team = action.get("team")
        if team is not None and not Team.objects.filter(workspace=workspace, pk=team).exists():
            errors[f"actions.{i}.team"] = ["No such team in this workspace."]
        agent = action.get("assignee")
        if (
            agent is not None
            and not Membership.objects.filter(workspace=workspace, user_id=agent).exists()
        ):
            errors[f"actions.{i}.assignee"] = ["Not a member of this workspace."]
    if errors:
        raise ValidationFailed("The rule's actions are not valid.", field_errors=errors)


def url_problem(url: Any, *, resolve: bool = True) -> str:
    """Why a webhook URL may not be called ("" when it may): https only, no credentials, and
    (when resolving) no private, loopback, link-local or reserved address."""
    if not isinstance(url, str) or len(url) > 2000:
        return "An https URL."
    parts = urlsplit(url)
    schemes = ("https", "http") if _allow_private() else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        return "An https URL."
    if parts.username or parts.password:
        return "No user name or password in the URL."
    if _allow_private():
        return ""
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if not resolve:
            return "" if host != "localhost" else "A public address."
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError:
            return "The host name does not resolve."
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not address.is_global or address.is_multicast:
            return "A public address: private, loopback and link-local ones are refused."
    return ""


# --- Applying -------------------------------------------------------------------------------


def apply(*, send: Send, actor: Actor) -> None:
    """Run the extra actions of the send's rule for its event, recording each outcome. The
    webhook calls go out after commit."""
    for index, action in enumerate(send.rule.actions):
        kind = action.get("type")
        if kind == "create_conversation":
            result = _create_conversation(send=send, action=action, actor=actor)
        elif kind == "call_webhook":
            result = {"type": kind, "status": "pending", "attempts": 0}
            transaction.on_commit(functools.partial(_enqueue_webhook, send.pk, index, 1))
        else:
            continue
        send.action_results = {**(send.action_results or {}), str(index): result}
    Send.objects.filter(pk=send.pk).update(action_results=send.action_results)


def _enqueue_webhook(send_id: int, index: int, attempt: int, delay: float = 0) -> None:
    from ascolto.engagement import tasks  # the task module imports this one

    if delay:
        tasks.call_webhook.schedule(args=(send_id, index, attempt), delay=delay)
    else:
        tasks.call_webhook(send_id, index, attempt)


def _create_conversation(*, send: Send, action: dict[str, Any], actor: Actor) -> dict[str, Any]:
    rule, customer = send.rule, send.customer
    inbox = Inbox.objects.filter(workspace_id=rule.workspace_id, pk=action["inbox"]).first()
    if inbox is None or rule.owner is None:
        return {
            "type": "create_conversation",
            "status": "failed",
            "error": "The inbox is gone." if inbox is None else "The rule has no owner.",
        }
    rendered = templates_render.render(
        body=action.get("note", ""),
        subject=action["subject"],
        customer=customer,
        order=send.event.order,
        event_payload=send.event.payload,
    )
    conversation, created = inbox_services.conversation_for_contact(
        inbox=inbox, customer=customer, subject=rendered.subject
    )
    due = None
    if action.get("due_in_days") is not None:
        due = timezone.now() + dt.timedelta(days=action["due_in_days"])
    note = rendered.text
    if due is not None:
        local = due.astimezone(templates_render.customer_zone(customer))
        note = f"{note}\n\nDue: {local:%Y-%m-%d}".strip()
    if note:
        inbox_services.note_add(
            conversation=conversation, author=rule.owner, text=note, actor=actor
        )
    team_id, agent_id = action.get("team"), action.get("assignee")
    team = (
        Team.objects.filter(workspace_id=rule.workspace_id, pk=team_id).first()
        if team_id is not None
        else None
    )
    agent = (
        User.objects.filter(pk=agent_id, memberships__workspace_id=rule.workspace_id).first()
        if agent_id is not None
        else None
    )
    if team is not None or agent is not None:
        conversation = inbox_services.conversation_assign(
            conversation=conversation,
            assignee=agent or conversation.assignee,
            team=team,
            actor=actor,
            reason=f"Rule: {rule.name}"[:300],
        )
    if due is not None and conversation.sla_policy_id is None:
        # Without an SLA policy the resolution target is free to carry the follow-up's date,
        # so the console shows it as due and the SLA alerts fire on it.
        Conversation.objects.filter(pk=conversation.pk).update(resolution_due_at=due)
    return {
        "type": "create_conversation",
        "status": "done",
        "conversation_id": conversation.pk,
        "created": created,
        "due_at": due.isoformat() if due else None,
    }


# --- Webhooks -------------------------------------------------------------------------------


def webhook_body(send: Send) -> bytes:
    event, customer = send.event, send.customer
    body = {
        "send_id": send.pk,
        "rule": {"id": send.rule_id, "name": send.rule.name},
        "event": {
            "id": event.pk,
            "type": event.type,
            "name": event.name,
            "external_id": event.external_id,
            "occurred_at": event.occurred_at.isoformat(),
            "payload": event.payload,
        },
        "customer": {
            "id": customer.pk,
            "external_id": customer.external_id,
            "name": customer.name,
            "locale": customer.locale,
            "attributes": customer.attributes or {},
        },
    }
    return json.dumps(body, sort_keys=True, default=str).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (checked by url_problem)
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def webhook_attempt(*, send_id: int, index: int, attempt: int) -> dt.timedelta | None:
    """Make one attempt at a rule's webhook and record it on the Send. Returns the wait before
    the next attempt when it should be retried (network errors, timeouts, 408, 429, 5xx),
    else None (delivered, refused for good, or out of attempts)."""
    send = Send.objects.select_related("rule", "event", "customer").filter(pk=send_id).first()
    if send is None or index >= len(send.rule.actions):
        return None
    action = send.rule.actions[index]
    result: dict[str, Any] = {"type": "call_webhook", "attempts": attempt, "url": action["url"]}
    retry: dt.timedelta | None = None
    problem = url_problem(action["url"])
    if problem:
        result |= {"status": "refused", "error": problem}
    else:
        body = webhook_body(send)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Ascolto-Webhook/1",
            "X-Ascolto-Signature": signature(
                guards.settings_for(send.workspace_id).webhook_secret, body
            ),
            "X-Ascolto-Delivery": f"{send.pk}-{index}",
        }
        try:
            status = _post(action["url"], body, headers)
        except (OSError, ValueError) as exc:
            status, error = 0, repr(exc)[:500]
        else:
            error = "" if 200 <= status < 300 else f"HTTP {status}"
        result["http_status"] = status
        if not error:
            result["status"] = "delivered"
        else:
            result["error"] = error
            retryable = status == 0 or status in (408, 429) or status >= 500
            if retryable and attempt < WEBHOOK_MAX_ATTEMPTS:
                result["status"] = "retrying"
                retry = WEBHOOK_BACKOFF[min(attempt, len(WEBHOOK_BACKOFF)) - 1]
            else:
                result["status"] = "failed"
    with transaction.atomic():
        locked = Send.objects.select_for_update().get(pk=send_id)
        locked.action_results = {**(locked.action_results or {}), str(index): result}
        locked.save(update_fields=["action_results", "updated_at"])
    if result["status"] in ("failed", "refused"):
        logger.warning("Engagement webhook of send %s failed: %s", send_id, result.get("error"))
    return retry


def webhook_run(*, send_id: int, index: int, attempt: int) -> None:
    """An attempt, and the next one scheduled after its backoff when it should be retried."""
    retry = webhook_attempt(send_id=send_id, index=index, attempt=attempt)
    if retry is not None:
        _enqueue_webhook(send_id, index, attempt + 1, delay=retry.total_seconds())
