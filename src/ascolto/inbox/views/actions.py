"""The console's actions: reply or note (with a macro), status and snooze, assignment and
transfer, priority, tags, handling time, availability.

Each authorizes ("write" in the current workspace), runs one change in `transaction.atomic`,
and answers htmx with the fresh conversation header plus the thread items that appeared since
the client's last ones (`after`, `after_event`), so a line such as "Transferred to Marco" shows
at once. `HX-Trigger: inbox-changed` makes the list and counts refresh even when the realtime
socket is down. Without htmx, actions redirect back to the conversation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ascolto.accounts.models import User
from ascolto.core.actors import Actor
from ascolto.core.errors import DomainError, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import bad_request, current_workspace, is_htmx, render_in_workspace
from ascolto.inbox import api_support, macros, routing, services
from ascolto.inbox.models import AgentProfile, Conversation
from ascolto.inbox.views.context import (
    conversation_or_404,
    head_context,
    people_of,
    tail_items,
    teams_of,
    thread_position,
    workspace_zone,
    writer,
)

Status = Conversation.Status


def _refused(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """A 400 with a message the agent can act on (the services' field errors, translated)."""
    fields = exc.field_errors or {}
    messages = {
        "snoozed_until": _("Choose a time in the future to snooze until."),
        "assignee": _("Choose a member of this workspace."),
        "assignee_id": _("Choose a member of this workspace."),
        "team": _("Choose a team of this workspace."),
        "team_id": _("Choose a team of this workspace."),
        "priority": _("Choose a priority."),
        "status": _("Choose a status."),
    }
    for field, message in messages.items():
        if field in fields:
            return bad_request(request, message)
    if "attachments" in fields:
        return bad_request(
            request,
            _("Some files were refused: %(reasons)s")
            % {"reasons": "; ".join(fields["attachments"])},
        )
    if "text" in fields:
        return bad_request(request, _("Write something first."))
    return bad_request(request, exc.message)


def _acted(
    request: HttpRequest, workspace: Workspace, pk: int, *, main: str = "head"
) -> HttpResponse:
    """The response to an action: the fresh header and the new thread items (one of them the
    main target, the other out of band); a redirect back without htmx."""
    if not is_htmx(request):
        return redirect("inbox:conversation", pk=pk)
    conversation = conversation_or_404(workspace, pk)
    people, teams = people_of(workspace), teams_of(workspace)
    context = {
        **head_context(workspace, conversation, people, teams),
        "items": tail_items(request, conversation, people, teams),
        "can_write": True,
        "main": main,
    }
    response = render_in_workspace(request, "inbox/_action_result.html", context)
    response["HX-Trigger"] = "inbox-changed"
    return response


def _run(
    request: HttpRequest,
    pk: int,
    change: Callable[[Workspace, User, Conversation], Any],
    *,
    main: str = "head",
) -> HttpResponse:
    """Authorize, run one change in a transaction, answer with the updated conversation."""
    workspace, user = writer(request)
    try:
        # A bad thread position is refused before anything is written.
        thread_position(request, "after")
        thread_position(request, "after_event")
        with transaction.atomic():
            change(workspace, user, conversation_or_404(workspace, pk))
    except DomainError as exc:
        return _refused(request, exc)
    return _acted(request, workspace, pk, main=main)


def _files(request: HttpRequest) -> list[services.IncomingAttachment]:
    return [
        services.IncomingAttachment(
            filename=upload.name or "attachment",
            content_type=upload.content_type or "application/octet-stream",
            content=upload.read(),
        )
        for upload in request.FILES.getlist("files")
    ]


@login_required
@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a reply (optionally with a macro's actions and files) or add an internal note."""
    kind = request.POST.get("kind", "reply")
    text = request.POST.get("text", "")
    macro_raw = request.POST.get("macro", "")
    if kind not in ("reply", "note"):
        return bad_request(request, _("Choose a reply or an internal note."))
    if macro_raw and (kind != "reply" or not macro_raw.isdigit()):
        return bad_request(request, _("Macros go with replies, not notes."))
    if kind == "note" and request.FILES:
        return bad_request(request, _("Notes cannot carry files; send them with a reply."))
    if not text.strip() and not request.FILES and not macro_raw:
        return bad_request(request, _("Write something first."))

    def change(workspace: Workspace, user: User, conversation: Conversation) -> None:
        actor = Actor.for_user(user)
        if macro_raw:
            macro = macros.macro_get(workspace=workspace, user=user, macro_id=int(macro_raw))
            macros.macro_apply(
                macro=macro, conversation=conversation, agent=user, actor=actor, text=text
            )
        elif kind == "note":
            services.note_add(conversation=conversation, author=user, text=text, actor=actor)
        else:
            services.message_send(
                conversation=conversation,
                author=user,
                actor=actor,
                text=text,
                attachments=_files(request),
            )

    return _run(request, pk, change, main="items")


def _at_nine(day: dt.datetime) -> dt.datetime:
    return day.replace(hour=9, minute=0, second=0, microsecond=0)


def _snooze_until(request: HttpRequest, zone: dt.tzinfo) -> dt.datetime | None:
    """The end of a snooze from a preset or a local date and time in the workspace's zone."""
    preset, custom = request.POST.get("snooze", ""), request.POST.get("until", "")
    now = timezone.now().astimezone(zone)
    if preset == "1h":
        return now + dt.timedelta(hours=1)
    if preset == "4h":
        return now + dt.timedelta(hours=4)
    if preset == "tomorrow":
        return _at_nine(now + dt.timedelta(days=1))
    if preset == "next_week":
        return _at_nine(now + dt.timedelta(days=7 - now.weekday()))
    if custom:
        try:
            local = dt.datetime.fromisoformat(custom)
        except ValueError:
            return None
        return local.replace(tzinfo=zone) if local.tzinfo is None else local
    return None


@login_required
@require_POST
def set_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve, reopen, close, wait on the customer (pending), or snooze until a time."""
    status = request.POST.get("status", "")
    if status not in Status.values:
        return bad_request(request, _("Choose a status."))
    until = None
    if status == Status.SNOOZED:
        until = _snooze_until(request, workspace_zone(current_workspace(request)))
        if until is None:
            return bad_request(request, _("Choose when the conversation should come back."))
    reason = request.POST.get("reason", "")[:300]

    def change(workspace: Workspace, user: User, conversation: Conversation) -> None:
        services.conversation_set_status(
            conversation=conversation,
            status=status,
            actor=Actor.for_user(user),
            snoozed_until=until,
            reason=reason,
        )

    return _run(request, pk, change)


def _member_choice(workspace: Workspace, user: User, raw: str) -> User | None:
    if raw == "":
        return None
    if raw == "me":
        return user
    if not raw.isdigit():
        raise ValidationFailed("", field_errors={"assignee": ["?"]})
    return api_support.member_ref(workspace=workspace, user_id=int(raw), field="assignee")


@login_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign to me, to another member and/or a team, or unassign; a transfer keeps a reason."""
    assignee_raw = request.POST.get("assignee", "").strip()
    team_raw = request.POST.get("team", "").strip()
    reason = request.POST.get("reason", "").strip()[:300]
    if team_raw and not team_raw.isdigit():
        return bad_request(request, _("Choose a team of this workspace."))

    def change(workspace: Workspace, user: User, conversation: Conversation) -> None:
        assignee = _member_choice(workspace, user, assignee_raw)
        team = (
            api_support.team_ref(workspace=workspace, team_id=int(team_raw), field="team")
            if team_raw
            else None
        )
        services.conversation_assign(
            conversation=conversation,
            actor=Actor.for_user(user),
            assignee=assignee,
            team=team,
            reason=reason,
        )

    return _run(request, pk, change)


@login_required
@require_POST
def set_priority(request: HttpRequest, pk: int) -> HttpResponse:
    raw = request.POST.get("priority", "")
    if not raw.isdigit() or int(raw) not in Conversation.Priority.values:
        return bad_request(request, _("Choose a priority."))

    def change(workspace: Workspace, user: User, conversation: Conversation) -> None:
        services.conversation_set_priority(
            conversation=conversation, priority=int(raw), actor=Actor.for_user(user)
        )

    return _run(request, pk, change)


@login_required
@require_POST
def set_tags(request: HttpRequest, pk: int) -> HttpResponse:
    """Replace the tags with a comma-separated list (unknown names become new tags)."""
    names = [name.strip() for name in request.POST.get("tags", "").split(",") if name.strip()]
    if len(names) > 30 or any(len(name) > 60 for name in names):
        return bad_request(request, _("Up to 30 tags of at most 60 characters each."))

    def change(workspace: Workspace, user: User, conversation: Conversation) -> None:
        services.conversation_set_tags(
            conversation=conversation, names=names, actor=Actor.for_user(user)
        )

    return _run(request, pk, change)


def _moment(raw: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@login_required
@require_POST
def handling(request: HttpRequest, pk: int) -> HttpResponse:
    """A span of active handling (the conversation in front of the agent, or being written)."""
    workspace, user = writer(request)
    started = _moment(request.POST.get("started_at", ""))
    ended = _moment(request.POST.get("ended_at", ""))
    if started is None or ended is None:
        return bad_request(request, _("Send the span's start and end as ISO 8601 times."))
    if ended <= started or ended > timezone.now() + dt.timedelta(minutes=2):
        return bad_request(request, _("A span ends after it starts, and not in the future."))
    with transaction.atomic():
        conversation = conversation_or_404(workspace, pk)
        services.handling_record(
            conversation=conversation, agent=user, started_at=started, ended_at=ended
        )
    return HttpResponse(status=204)


@login_required
@require_POST
def availability(request: HttpRequest) -> HttpResponse:
    """The agent's availability: online (gets new conversations), away or offline."""
    workspace, user = writer(request)
    wanted = request.POST.get("availability", "")
    if wanted not in AgentProfile.Availability.values:
        return bad_request(request, _("Choose online, away or offline."))
    with transaction.atomic():
        profile = routing.agent_set_availability(
            workspace=workspace, user=user, availability=wanted, actor=Actor.for_user(user)
        )
    if not is_htmx(request):
        return redirect("inbox:console")
    context = {
        "availability": profile.availability,
        "availability_choices": AgentProfile.Availability.choices,
    }
    return render_in_workspace(request, "inbox/_availability.html", context)
