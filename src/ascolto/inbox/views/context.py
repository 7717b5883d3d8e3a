"""What the console's views share: access checks, the list's filters and rows, the thread's
items (messages and system lines), and the contexts of the conversation and customer panes."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from ascolto.accounts.models import Role, Team, User
from ascolto.accounts.selectors import has_permission
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import current_workspace
from ascolto.customers import selectors as customer_selectors
from ascolto.inbox import api_support, macros, routing, selectors
from ascolto.inbox.models import (
    AgentProfile,
    Channel,
    Conversation,
    ConversationEvent,
    Message,
    SLAAlert,
)

LIST_PAGE = 50
MAX_SEARCH = 200
STATUS_FILTERS = ("open", "pending", "snoozed", "resolved", "closed", "active", "any")
PANEL_ORDERS = 5
PANEL_CONVERSATIONS = 6
PANEL_SURVEYS = 5
SLA_SOON = dt.timedelta(hours=1)
WRITERS = (Role.OWNER, Role.ADMIN, Role.SUPERVISOR, Role.AGENT)
Status = Conversation.Status


# --- Access -------------------------------------------------------------------------------------


def user_of(request: HttpRequest) -> User:
    return cast(User, request.user)


def writer(request: HttpRequest) -> tuple[Workspace, User]:
    """The workspace and user of a request that changes something (403 for read-only roles)."""
    workspace, user = current_workspace(request), user_of(request)
    if not has_permission(user=user, workspace=workspace, permission="write"):
        raise PermissionDenied(_("Your role can read conversations but not change them."))
    return workspace, user


def conversation_or_404(workspace: Workspace, pk: int) -> Conversation:
    try:
        return selectors.conversation_get(workspace=workspace, conversation_id=pk)
    except NotFound:
        raise Http404(_("No such conversation in this workspace.")) from None


# --- The list -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListParams:
    view: str = "mine"
    status: str = "open"
    channel: str = ""
    search: str = ""
    cursor: str = ""
    limit: int = LIST_PAGE

    def conversation_filter(self) -> selectors.ConversationFilter:
        return selectors.ConversationFilter(
            view=self.view,
            status=None if self.status == "any" else self.status,
            channel=self.channel or None,
            search=self.search,
        )

    @property
    def query(self) -> str:
        """The filters as a query string (no cursor): links keep them."""
        pairs = {
            "view": self.view,
            "status": self.status,
            "channel": self.channel,
            "q": self.search,
        }
        return urlencode({key: value for key, value in pairs.items() if value})


def parse_list(params: QueryDict) -> ListParams | str:
    """The list's filters from the query string, or a message saying what is wrong."""
    view = params.get("view") or "mine"
    status = params.get("status") or "open"
    channel = params.get("channel", "")
    search = params.get("q", "").strip()
    if view not in selectors.VIEWS:
        return _("Unknown view.")
    if status not in STATUS_FILTERS:
        return _("Unknown status filter.")
    if channel and channel not in Channel.values:
        return _("Unknown channel.")
    if len(search) > MAX_SEARCH:
        return _("Search for at most %(n)s characters.") % {"n": MAX_SEARCH}
    try:
        limit = int(params.get("limit") or LIST_PAGE)
    except ValueError:
        return _("The number of rows must be a whole number.")
    if not 1 <= limit <= selectors.MAX_PAGE:
        return _("Ask for 1 to %(n)s rows.") % {"n": selectors.MAX_PAGE}
    return ListParams(view, status, channel, search, params.get("cursor", ""), limit)


@dataclass(frozen=True)
class Row:
    conversation: Conversation
    sla: str  # "", "soon" or "breached"
    sla_due: dt.datetime | None
    pane_url: str  # the conversation (htmx asks for its pane)
    url: str  # the same with the list's filters, for links and the address bar


def _sla(conversation: Conversation, now: dt.datetime) -> tuple[str, dt.datetime | None]:
    """The nearest SLA target still running, and whether it is near or past."""
    if conversation.status not in (Status.OPEN, Status.SNOOZED):
        return "", None
    dues = [conversation.resolution_due_at]
    if conversation.first_response_at is None:
        dues.append(conversation.first_response_due_at)
    elif conversation.waiting_since is not None:
        dues.append(conversation.next_response_due_at)
    due = min((d for d in dues if d is not None), default=None)
    if due is None:
        return "", None
    if due <= now:
        return "breached", due
    return ("soon" if due - now <= SLA_SOON else ""), due


def _list_page(
    workspace: Workspace, user: User, params: ListParams
) -> tuple[list[Row], str | None]:
    page = selectors.conversation_list(
        workspace=workspace,
        user=user,
        filters=params.conversation_filter(),
        cursor=params.cursor or None,
        limit=params.limit,
    )
    now = timezone.now()
    # One reverse() for the page, not three per row: the list is the console's hottest fragment.
    base = reverse("inbox:conversation", args=[0]).removesuffix("0/")
    query = f"?{params.query}" if params.query else ""
    rows = [
        Row(c, *_sla(c, now), pane_url=f"{base}{c.pk}/", url=f"{base}{c.pk}/{query}")
        for c in api_support.with_tags(page.items)
    ]
    return rows, page.next_cursor


def count_badge(count: int) -> str:
    """A sidebar count as shown: the figure, or "100+" past the selector's cap."""
    if count > selectors.VIEW_COUNT_CAP:
        return _("%(count)s+") % {
            "count": number_format(selectors.VIEW_COUNT_CAP, force_grouping=True)
        }
    return str(count)


def views_with_counts(workspace: Workspace, user: User) -> list[tuple[str, str, str]]:
    labels = {
        "mine": _("Mine"),
        "unassigned": _("Unassigned"),
        "my_teams": _("My teams"),
        "all": _("All"),
        "sla_due": _("SLA due soon"),
        "high_value": _("High-value customers"),
        "mentions": _("Mentions"),
    }
    counts = selectors.view_counts(workspace=workspace, user=user)
    return [(view, labels[view], count_badge(counts.get(view, 0))) for view in selectors.VIEWS]


def sidebar(workspace: Workspace, user: User) -> dict[str, Any]:
    channels = sorted({inbox.channel for inbox in selectors.inbox_list(workspace=workspace)})
    profile = AgentProfile.objects.filter(workspace=workspace, user=user).first()
    return {
        "views": views_with_counts(workspace, user),
        "channels": [(c, Channel(c).label) for c in channels],
        "availability": profile.availability if profile else AgentProfile.Availability.OFFLINE,
        "availability_choices": AgentProfile.Availability.choices,
        "js_strings": js_strings(),
    }


def js_strings() -> dict[str, Any]:
    """What console.js says, in the active language (%(name)s placeholders filled in there)."""
    return {
        "viewing": _("%(names)s also viewing"),
        "typing": _("%(name)s is typing…"),
        "newConversation": _("New conversation: %(subject)s"),
        "newMessage": _("New message in the open conversation"),
        "offline": _("Live updates paused; reconnecting…"),
        "removeFilter": _("Remove the saved filter %(name)s"),
        "noSavedFilters": _("None yet: search or pick a view, then save it."),
        "delivery": dict(Message.Delivery.choices),
        "filesChosen": _("Files attached: %(count)s"),
    }


def list_context(workspace: Workspace, user: User, params: ListParams) -> dict[str, Any]:
    rows, next_cursor = _list_page(workspace, user, params)
    return {
        "rows": rows,
        "next_cursor": next_cursor,
        "params": params,
        "status_choices": _status_choices(),
        "synced_at": timezone.now().isoformat(),
    }


def _status_choices() -> list[tuple[str, str]]:
    extra = [("active", _("Active (open, pending, snoozed)")), ("any", _("Any"))]
    return [(str(value), str(label)) for value, label in [*Status.choices, *extra]]


# --- The thread --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadItem:
    at: dt.datetime
    message: Message | None = None
    event: ConversationEvent | None = None
    line: str = ""
    reason: str = ""
    by: str = ""  # who did it, when the line does not already say


def _name(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _reason(event: ConversationEvent) -> str:
    known = {
        "customer replied": _("the customer replied"),
        "snooze ended": _("the snooze ended"),
        "replied": _("replied"),
        routing.AUTO_REASON: _("automatic assignment"),
    }
    if event.kind == ConversationEvent.Kind.SLA:
        return ""
    if event.reason.startswith("SLA breached"):
        return _("SLA breached")
    return known.get(event.reason, event.reason)


def _label(choices: Any, value: object) -> str:
    return str(dict(choices).get(value, value))


def _iso(text: str) -> str:
    """Isolate a name inside a translated sentence (Unicode FSI…PDI, the text form of <bdi>),
    so "Marco Conti" keeps its order inside Hebrew and "נועה כהן" inside English."""
    return f"\u2068{text}\u2069"


def _event_line(event: ConversationEvent, people: dict[str, str], teams: dict[int, str]) -> str:
    kind, Kind = event.kind, ConversationEvent.Kind
    if kind == Kind.CREATED:
        return _("Conversation started")
    if kind == Kind.REOPENED:
        return _("Reopened")
    if kind == Kind.STATUS:
        if event.to_value == Status.SNOOZED and event.data.get("snoozed_until"):
            until = dt.datetime.fromisoformat(str(event.data["snoozed_until"]))
            return _("Snoozed until %(when)s") % {
                "when": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")
            }
        return _("Status changed from %(from)s to %(to)s") % {
            "from": _label(Status.choices, event.from_value),
            "to": _label(Status.choices, event.to_value),
        }
    if kind in (Kind.ASSIGNED, Kind.TRANSFERRED):
        to = _iso(people.get(event.to_value, f"#{event.to_value}")) if event.to_value else ""
        team_id = event.data.get("to_team")
        if kind == Kind.TRANSFERRED:
            source = _iso(people.get(event.from_value, f"#{event.from_value}"))
            if not to:
                return _("Taken from %(from)s and handed back to the queue") % {"from": source}
            return _("Transferred from %(from)s to %(to)s") % {"from": source, "to": to}
        if to:
            return _("Assigned to %(name)s") % {"name": to}
        if team_id and team_id != event.data.get("from_team"):
            return _("Handed over to the team %(team)s") % {
                "team": _iso(teams.get(int(team_id), f"#{team_id}"))
            }
        return _("Unassigned")
    if kind == Kind.PRIORITY:
        return _("Priority changed from %(from)s to %(to)s") % {
            "from": _label(Conversation.Priority.choices, int(event.from_value or 0)),
            "to": _label(Conversation.Priority.choices, int(event.to_value or 0)),
        }
    if kind == Kind.TAGGED:
        if not event.to_value:
            return _("Tags removed")
        return _("Tags: %(tags)s") % {"tags": _iso(event.to_value.replace(",", ", "))}
    if kind == Kind.SLA:
        return _("SLA breached: %(target)s") % {
            "target": _label(SLAAlert.Target.choices, event.from_value)
        }
    return _label(Kind.choices, kind)


def people_of(workspace: Workspace) -> list[User]:
    """Members who can take conversations (analysts only read), by name."""
    return list(
        User.objects.filter(
            memberships__workspace=workspace, memberships__role__in=WRITERS, is_active=True
        ).order_by("first_name", "last_name", "username")
    )


def teams_of(workspace: Workspace) -> list[Team]:
    return list(Team.objects.filter(workspace=workspace).order_by("name"))


def thread_items(
    messages: list[Message],
    events: list[ConversationEvent],
    people: list[User],
    teams: list[Team],
) -> list[ThreadItem]:
    names = {str(user.pk): _name(user) for user in people}
    team_names = {team.pk: team.name for team in teams}
    items = [ThreadItem(at=m.created_at, message=m) for m in messages]
    for event in events:
        if event.kind == ConversationEvent.Kind.CREATED and messages:
            continue  # the first message says it better
        by = _name(event.actor) if event.actor_id and str(event.actor_id) != event.to_value else ""
        items.append(
            ThreadItem(
                at=event.created_at,
                event=event,
                line=_event_line(event, names, team_names),
                reason=_reason(event),
                by=by,
            )
        )
    items.sort(key=lambda item: (item.at, item.event is not None))
    return items


def thread_position(request: HttpRequest, name: str) -> int:
    raw = request.GET.get(name) or request.POST.get(name) or "0"
    if not raw.isdigit() or len(raw) > 18:
        raise ValidationFailed(_("The thread position is not valid; reload the page."))
    return int(raw)


def tail_items(
    request: HttpRequest, conversation: Conversation, people: list[User], teams: list[Team]
) -> list[ThreadItem]:
    """Thread items after the client's last message and event ids."""
    after_message, after_event = (
        thread_position(request, "after"),
        thread_position(request, "after_event"),
    )
    messages = selectors.messages_since(conversation=conversation, after_id=after_message)
    prefetch_related_objects(messages, "attachments")
    events = [
        e for e in api_support.conversation_events(conversation=conversation) if e.pk > after_event
    ]
    return thread_items(messages, events, people, teams)


# --- Page contexts ------------------------------------------------------------------------------


def _panel(workspace: Workspace, conversation: Conversation) -> dict[str, Any]:
    customer = conversation.customer
    orders = customer_selectors.order_list(
        workspace=workspace, customer=customer, limit=PANEL_ORDERS
    )
    past = [
        c
        for c in selectors.customer_conversations(
            workspace=workspace, customer_id=customer.pk, limit=PANEL_CONVERSATIONS + 1
        )
        if c.pk != conversation.pk
    ][:PANEL_CONVERSATIONS]
    return {
        "customer": customer,
        "identities": list(customer_selectors.identities_of(customer=customer)),
        "orders": orders.items,
        "spend": customer_selectors.customer_spend(customer=customer),
        "past_conversations": past,
        "surveys": _survey_history(workspace, customer.pk),
    }


def _survey_history(workspace: Workspace, customer_id: int) -> list[Any]:
    # Imported here: surveys builds on the inbox, and only this screen reads it back.
    from django.apps import apps

    if not apps.is_installed("ascolto.surveys"):
        return []
    from ascolto.surveys import selectors as survey_selectors

    page = survey_selectors.response_list(
        workspace=workspace,
        filters=survey_selectors.ResponseFilter(customer_id=customer_id, completed=True),
        limit=PANEL_SURVEYS,
    )
    return page.items


def conversation_context(
    request: HttpRequest, workspace: Workspace, conversation: Conversation
) -> dict[str, Any]:
    people, teams = people_of(workspace), teams_of(workspace)
    messages = selectors.thread(conversation=conversation)  # attachments prefetched
    events = api_support.conversation_events(conversation=conversation)
    user = user_of(request)
    return {
        "conversation": conversation,
        "items": thread_items(messages, events, people, teams),
        **head_context(workspace, conversation, people, teams),
        "macros": macros.macros_for(workspace=workspace, user=user),
        "can_write": has_permission(user=user, workspace=workspace, permission="write"),
        **_panel(workspace, conversation),
    }


def head_context(
    workspace: Workspace, conversation: Conversation, people: list[User], teams: list[Team]
) -> dict[str, Any]:
    """The conversation header: state, tags, and the choices its action menus offer."""
    return {
        "conversation": conversation,
        "tags": sorted(tag.name for tag in conversation.tags.all()),
        "people": people,
        "teams": teams,
        "priority_choices": Conversation.Priority.choices,
        "snooze_presets": [
            ("1h", _("In 1 hour")),
            ("4h", _("In 4 hours")),
            ("tomorrow", _("Tomorrow at 9:00")),
            ("next_week", _("Next Monday at 9:00")),
        ],
        "workspace_timezone": workspace.timezone,
    }


def workspace_zone(workspace: Workspace) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(workspace.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC
