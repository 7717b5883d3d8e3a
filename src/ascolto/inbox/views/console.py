"""The console's pages and fragments: the console, the list and its counts, a conversation
(pane, header, thread tail), the resync feed, macro previews and attachments.

Without htmx the same URLs render whole pages, so the console degrades to plain links.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ascolto.accounts.selectors import has_permission
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.views import bad_request, current_workspace, is_htmx, render_in_workspace
from ascolto.inbox import macros, selectors
from ascolto.inbox.models import Attachment, Conversation
from ascolto.inbox.views.context import (
    ListParams,
    conversation_context,
    conversation_or_404,
    head_context,
    list_context,
    parse_list,
    people_of,
    sidebar,
    tail_items,
    teams_of,
    user_of,
    views_with_counts,
)

CHANGES_LIMIT = 200
INLINE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def _console(
    request: HttpRequest, params: ListParams, conversation: Conversation | None = None
) -> HttpResponse:
    workspace, user = current_workspace(request), user_of(request)
    context: dict[str, Any] = {
        "section": "inbox",
        **sidebar(workspace, user),
        **list_context(workspace, user, params),
    }
    if conversation is not None:
        context.update(conversation_context(request, workspace, conversation))
    return render_in_workspace(request, "inbox/console.html", context)


@login_required
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    """The console with a view's conversations; no conversation open yet."""
    params = parse_list(request.GET)
    if isinstance(params, str):
        return bad_request(request, params)
    try:
        return _console(request, params)
    except ValidationFailed:
        return bad_request(request, _("This page link is no longer valid; reload the list."))


@login_required
@require_GET
def conversation_list(request: HttpRequest) -> HttpResponse:
    """The list (htmx): a view's first page, or the next page after a cursor ("load more")."""
    params = parse_list(request.GET)
    if isinstance(params, str):
        return bad_request(request, params)
    if not is_htmx(request):
        return redirect(f"{reverse('inbox:console')}?{params.query}")
    workspace, user = current_workspace(request), user_of(request)
    try:
        context = list_context(workspace, user, params)
    except ValidationFailed:
        return bad_request(request, _("This page link is no longer valid; reload the list."))
    template = "inbox/_rows.html" if params.cursor else "inbox/_list.html"
    return render_in_workspace(request, template, context)


@login_required
@require_GET
def counts(request: HttpRequest) -> HttpResponse:
    """The sidebar's views with their counts (refreshed when conversations change)."""
    workspace, user = current_workspace(request), user_of(request)
    context = {"views": views_with_counts(workspace, user), "params": parse_list(request.GET)}
    if isinstance(context["params"], str):
        context["params"] = ListParams()
    return render_in_workspace(request, "inbox/_views.html", context)


@login_required
@require_GET
def changes(request: HttpRequest) -> JsonResponse | HttpResponse:
    """Ids of conversations changed since a time: the console's resync after a dropped socket."""
    workspace = current_workspace(request)
    try:
        since = dt.datetime.fromisoformat(request.GET.get("since", ""))
    except ValueError:
        return bad_request(request, _("“since” must be a date and time (ISO 8601)."))
    if since.tzinfo is None:
        return bad_request(request, _("“since” needs a time zone."))
    now = timezone.now()
    rows = selectors.conversations_changed_since(
        workspace=workspace, since=since, limit=CHANGES_LIMIT
    )
    return JsonResponse(
        {
            "now": now.isoformat(),
            "conversation_ids": [row.pk for row in rows],
            "more": len(rows) >= CHANGES_LIMIT,
        }
    )


@login_required
@require_GET
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A conversation: the thread pane and, out of band, the customer panel (htmx); or the
    whole console with it open."""
    workspace = current_workspace(request)
    conversation = conversation_or_404(workspace, pk)
    if not is_htmx(request):
        params = parse_list(request.GET)
        if isinstance(params, str):
            params = ListParams()
        return _console(request, params, conversation)
    context = conversation_context(request, workspace, conversation)
    return render_in_workspace(request, "inbox/_conversation_open.html", context)


@login_required
@require_GET
def conversation_tail(request: HttpRequest, pk: int) -> HttpResponse:
    """Thread items after the client's last message and event: live updates and resync."""
    workspace = current_workspace(request)
    conversation = conversation_or_404(workspace, pk)
    try:
        items = tail_items(request, conversation, people_of(workspace), teams_of(workspace))
    except ValidationFailed as exc:
        return bad_request(request, exc.message)
    return render_in_workspace(
        request, "inbox/_thread_items.html", {"items": items, "conversation": conversation}
    )


@login_required
@require_GET
def conversation_head(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation's header (status, assignee, tags, actions), refreshed on live changes."""
    workspace = current_workspace(request)
    conversation = conversation_or_404(workspace, pk)
    context = {
        **head_context(workspace, conversation, people_of(workspace), teams_of(workspace)),
        "can_write": has_permission(user=user_of(request), workspace=workspace, permission="write"),
    }
    return render_in_workspace(request, "inbox/_conversation_head.html", context)


@login_required
@require_GET
def macro_preview(request: HttpRequest, pk: int, macro_id: int) -> HttpResponse:
    """A macro rendered for this conversation's customer, with the actions it will run."""
    workspace, user = current_workspace(request), user_of(request)
    conversation = conversation_or_404(workspace, pk)
    try:
        macro = macros.macro_get(workspace=workspace, user=user, macro_id=macro_id)
        body = macros.macro_body_for(macro=macro, conversation=conversation)
        rendered = macros.macro_render(body=body, customer=conversation.customer, agent=user)
        actions = macros.parse_actions(macro.actions, workspace_id=workspace.pk)
    except NotFound:
        raise Http404(_("No such macro.")) from None
    except ValidationFailed as exc:
        return bad_request(request, exc.message)
    teams = {team.pk: team.name for team in teams_of(workspace)} if actions.team_id else {}
    context = {
        "macro": macro,
        "rendered": rendered,
        "actions": macros.describe_actions(actions, teams=teams),
    }
    return render_in_workspace(request, "inbox/_macro_preview.html", context)


@login_required
@require_GET
def attachment(request: HttpRequest, pk: int) -> FileResponse:
    """A stored attachment of a message of the workspace (refused ones have no file)."""
    workspace = current_workspace(request)
    item = Attachment.objects.filter(workspace=workspace, pk=pk).exclude(file="").first()
    if item is None or item.refused_reason:
        raise Http404(_("No such file."))
    inline = item.content_type in INLINE_IMAGES
    response = FileResponse(
        item.file.open("rb"),
        as_attachment=not inline,
        filename=item.filename,
        content_type=item.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
