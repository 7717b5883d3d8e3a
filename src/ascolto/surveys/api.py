"""Surveys REST operations: surveys, settings, invitations, responses, metrics, CSV export and
the closed loop. One function per operation: parse, authorize (`require`), call one service or
selector, serialise. Writes run in `transaction.atomic`, so a failure leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema, Status

from ascolto.accounts.models import User
from ascolto.core.api import Cursor, Id, Limit, PageOut, Timestamp, api_auth, page_out, require
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers import selectors as customer_selectors
from ascolto.inbox import selectors as inbox_selectors
from ascolto.surveys import emails, selectors, services
from ascolto.surveys.api_schemas import (
    AssignIn,
    BounceIn,
    Breakdown,
    CloseLoopIn,
    FollowUpOut,
    FollowUpStatus,
    InvitationCreatedOut,
    InvitationIn,
    InvitationOut,
    InvitationStatus,
    LinkOut,
    LoopOut,
    MetricsOut,
    QuestionIn,
    QuestionsIn,
    ResponseOut,
    ResponsePatch,
    SettingsOut,
    SettingsPatch,
    SurveyDetailOut,
    SurveyIn,
    SurveyOut,
    SurveyPatch,
    group_out,
)
from ascolto.surveys.models import Invitation, Survey, SurveySettings

router = Router(auth=api_auth)
SURVEYS, INVITATIONS, RESPONSES, RESULTS, FOLLOWUPS = (
    "surveys",
    "survey invitations",
    "survey responses",
    "survey results",
    "survey follow-ups",
)


class PageParams(Schema):
    cursor: Cursor | None = None
    limit: Limit = 50


class SurveyFilters(PageParams):
    active: bool | None = None


class InvitationFilters(PageParams):
    status: InvitationStatus | None = None
    customer_id: Id | None = None


class Period(Schema):
    since: Timestamp | None = None
    until: Timestamp | None = None


class ResponseFilters(PageParams, Period):
    survey_id: Id | None = None
    completed: bool | None = None
    customer_id: Id | None = None


class ExportFilters(Period):
    completed: bool | None = None


class MetricsFilters(Period):
    survey_id: Id | None = None
    by: Breakdown | None = None


class FollowUpFilters(PageParams):
    status: FollowUpStatus | None = None
    owner_id: Id | None = None


def _question_input(q: QuestionIn) -> services.QuestionInput:
    return services.QuestionInput(
        key=q.key,
        type=q.type,
        text=q.text,
        required=q.required,
        display=q.display,
        scale_min=q.scale_min,
        scale_max=q.scale_max,
        low_label=q.low_label,
        high_label=q.high_label,
        choices=[c.model_dump() for c in q.choices],
        show_if={"question": q.show_if.question, "in": list(q.show_if.in_)} if q.show_if else {},
        end_if={"in": list(q.end_if.in_)} if q.end_if else {},
        translations=q.translations,
    )


def _detail(survey: Survey) -> dict[str, Any]:
    return {
        **{f: getattr(survey, f) for f in SurveyOut.model_fields},
        "questions": selectors.questions_of(survey),
    }


# --- Surveys --------------------------------------------------------------------------------


@router.get("/surveys", response=PageOut[SurveyOut], tags=[SURVEYS])
def list_surveys(request: HttpRequest, filters: Query[SurveyFilters]) -> dict[str, Any]:
    ctx = require(request, "read")
    page = selectors.survey_list(
        workspace=ctx.workspace, active=filters.active, cursor=filters.cursor, limit=filters.limit
    )
    return page_out(page.items, page.next_cursor)


@router.post("/surveys", response={201: SurveyDetailOut}, tags=[SURVEYS])
def create_survey(request: HttpRequest, payload: SurveyIn) -> Status[Any]:
    """Create a survey; NPS, CSAT and CES get their standard questions when none are given."""
    ctx = require(request, "admin")
    fields = payload.model_dump(exclude={"kind", "name", "touchpoint", "title", "questions"})
    with transaction.atomic():
        survey = services.survey_create(
            workspace=ctx.workspace,
            actor=ctx.actor,
            kind=payload.kind,
            name=payload.name,
            touchpoint=payload.touchpoint,
            title=payload.title,
            questions=[_question_input(q) for q in payload.questions]
            if payload.questions is not None
            else None,
            **fields,
        )
    return Status(201, _detail(survey))


@router.get("/surveys/{int:survey_id}", response=SurveyDetailOut, tags=[SURVEYS])
def get_survey(request: HttpRequest, survey_id: Id) -> Any:
    ctx = require(request, "read")
    return _detail(selectors.survey_get(workspace=ctx.workspace, survey_id=survey_id))


@router.patch("/surveys/{int:survey_id}", response=SurveyDetailOut, tags=[SURVEYS])
def update_survey(request: HttpRequest, survey_id: Id, payload: SurveyPatch) -> Any:
    ctx = require(request, "admin")
    fields = payload.model_dump(exclude_unset=True)
    nulls = [name for name, value in fields.items() if value is None]
    if nulls:
        raise ValidationFailed(
            "Fields cannot be null.", field_errors={name: ["Cannot be null."] for name in nulls}
        )
    with transaction.atomic():
        survey = selectors.survey_get(workspace=ctx.workspace, survey_id=survey_id)
        services.survey_update(survey=survey, actor=ctx.actor, **fields)
    return _detail(survey)


@router.delete("/surveys/{int:survey_id}", response={204: None}, tags=[SURVEYS])
def delete_survey(request: HttpRequest, survey_id: Id) -> Status[None]:
    """Delete a survey nobody was invited to (409 otherwise: deactivate it instead)."""
    ctx = require(request, "admin")
    with transaction.atomic():
        survey = selectors.survey_get(workspace=ctx.workspace, survey_id=survey_id)
        services.survey_delete(survey=survey, actor=ctx.actor)
    return Status(204, None)


@router.put("/surveys/{int:survey_id}/questions", response=SurveyDetailOut, tags=[SURVEYS])
def replace_questions(request: HttpRequest, survey_id: Id, payload: QuestionsIn) -> Any:
    """Replace the questions (409 once the survey has answers)."""
    ctx = require(request, "admin")
    with transaction.atomic():
        survey = selectors.survey_get(workspace=ctx.workspace, survey_id=survey_id)
        services.survey_set_questions(
            survey=survey,
            questions=[_question_input(q) for q in payload.questions],
            actor=ctx.actor,
        )
    return _detail(survey)


@router.get("/surveys/settings", response=SettingsOut, tags=[SURVEYS])
def get_survey_settings(request: HttpRequest) -> SurveySettings:
    ctx = require(request, "read")
    with transaction.atomic():
        return services.settings_for(ctx.workspace)


@router.patch("/surveys/settings", response=SettingsOut, tags=[SURVEYS])
def update_survey_settings(request: HttpRequest, payload: SettingsPatch) -> SurveySettings:
    """Suppression window, reminders, and the closed loop's owner rules and due time."""
    ctx = require(request, "admin")
    fields = payload.model_dump(exclude_unset=True)
    nulls = [n for n, v in fields.items() if v is None and n != "followup_owner_id"]
    if nulls:
        raise ValidationFailed(
            "Fields cannot be null.", field_errors={name: ["Cannot be null."] for name in nulls}
        )
    if "followup_owner_id" in fields:
        owner_id = fields.pop("followup_owner_id")
        fields["followup_owner"] = _user(owner_id, "followup_owner_id")
    with transaction.atomic():
        return services.settings_update(workspace=ctx.workspace, actor=ctx.actor, **fields)


def _user(user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"No user #{user_id}.", field_errors={field: ["No such user."]})
    return user


# --- Invitations ----------------------------------------------------------------------------


@router.post(
    "/surveys/{int:survey_id}/invitations",
    response={201: InvitationCreatedOut},
    tags=[INVITATIONS],
)
def create_invitation(request: HttpRequest, survey_id: Id, payload: InvitationIn) -> Status[Any]:
    """Invite a customer (sampling, suppression and consent apply: the invitation may come
    back `skipped` with its reason). A `link` invitation returns its URL; an `email` one is
    sent by the job at `send_after`. The same `source_key` returns the same invitation."""
    ctx = require(request, "write")
    with transaction.atomic():
        survey = selectors.survey_get(workspace=ctx.workspace, survey_id=survey_id)
        invitation = services.invitation_create(
            survey=survey,
            customer=_customer(ctx.workspace, payload.customer_id),
            channel=payload.channel,
            source_key=payload.source_key or "",
            send_after=payload.send_after,
            conversation=_conversation(ctx.workspace, payload.conversation_id),
            order=_order(ctx.workspace, payload.order_id),
            context=payload.context,
        )
        url = None
        if (
            invitation.channel == Invitation.Channel.LINK
            and invitation.status != Invitation.Status.SKIPPED
        ):
            url = emails.survey_url(services.invitation_issue_link(invitation=invitation))
    return Status(201, {**_invitation(invitation), "url": url})


def _invitation(invitation: Invitation) -> dict[str, Any]:
    return {name: getattr(invitation, name) for name in InvitationOut.model_fields}


def _customer(workspace: Workspace, customer_id: int) -> Any:
    try:
        return customer_selectors.customer_get(
            workspace=workspace, customer_id=customer_id, follow_merge=True
        )
    except NotFound as exc:
        raise NotFound(exc.message, field_errors={"customer_id": ["No such customer."]}) from None


def _conversation(workspace: Workspace, conversation_id: int | None) -> Any:
    if conversation_id is None:
        return None
    try:
        return inbox_selectors.conversation_get(
            workspace=workspace, conversation_id=conversation_id
        )
    except NotFound as exc:
        raise NotFound(
            exc.message, field_errors={"conversation_id": ["No such conversation."]}
        ) from None


def _order(workspace: Workspace, order_id: int | None) -> Any:
    if order_id is None:
        return None
    try:
        return customer_selectors.order_get(workspace=workspace, order_id=order_id)
    except NotFound as exc:
        raise NotFound(exc.message, field_errors={"order_id": ["No such order."]}) from None


@router.get(
    "/surveys/{int:survey_id}/invitations", response=PageOut[InvitationOut], tags=[INVITATIONS]
)
def list_invitations(
    request: HttpRequest, survey_id: Id, filters: Query[InvitationFilters]
) -> dict[str, Any]:
    ctx = require(request, "read")
    survey = selectors.survey_get(workspace=ctx.workspace, survey_id=survey_id)
    page = selectors.invitation_list(
        workspace=ctx.workspace,
        survey=survey,
        status=filters.status,
        customer_id=filters.customer_id,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_out(page.items, page.next_cursor)


@router.post("/surveys/invitations/{int:invitation_id}/link", response=LinkOut, tags=[INVITATIONS])
def issue_invitation_link(request: HttpRequest, invitation_id: Id) -> dict[str, str]:
    """A new link for the invitation (earlier ones keep working)."""
    ctx = require(request, "write")
    with transaction.atomic():
        invitation = selectors.invitation_get(workspace=ctx.workspace, invitation_id=invitation_id)
        token = services.invitation_issue_link(invitation=invitation)
    return {"url": emails.survey_url(token)}


@router.post(
    "/surveys/invitations/{int:invitation_id}/bounce", response=InvitationOut, tags=[INVITATIONS]
)
def bounce_invitation(request: HttpRequest, invitation_id: Id, payload: BounceIn) -> Any:
    """Record that the invitation email bounced."""
    ctx = require(request, "write")
    with transaction.atomic():
        invitation = selectors.invitation_get(workspace=ctx.workspace, invitation_id=invitation_id)
        services.invitation_mark_bounced(
            invitation=invitation, reason=payload.reason, actor=ctx.actor
        )
    return _invitation(invitation)


# --- Responses ------------------------------------------------------------------------------


def _response_filter(filters: Any, survey_id: int | None = None) -> selectors.ResponseFilter:
    return selectors.ResponseFilter(
        survey_id=survey_id if survey_id is not None else getattr(filters, "survey_id", None),
        since=filters.since,
        until=filters.until,
        completed=getattr(filters, "completed", None),
        customer_id=getattr(filters, "customer_id", None),
    )


@router.get("/surveys/responses", response=PageOut[ResponseOut], tags=[RESPONSES])
def list_responses(request: HttpRequest, filters: Query[ResponseFilters]) -> dict[str, Any]:
    """Responses, newest first (finished or not: `completed` tells)."""
    ctx = require(request, "read")
    page = selectors.response_list(
        workspace=ctx.workspace,
        filters=_response_filter(filters),
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_out(page.items, page.next_cursor)


@router.get("/surveys/responses/{int:response_id}", response=ResponseOut, tags=[RESPONSES])
def get_response(request: HttpRequest, response_id: Id) -> Any:
    ctx = require(request, "read")
    return selectors.response_get(workspace=ctx.workspace, response_id=response_id)


@router.patch("/surveys/responses/{int:response_id}", response=ResponseOut, tags=[RESPONSES])
def edit_response(request: HttpRequest, response_id: Id, payload: ResponsePatch) -> Any:
    """Correct answers (e.g. given over the phone); audited."""
    ctx = require(request, "write")
    with transaction.atomic():
        response = selectors.response_get(workspace=ctx.workspace, response_id=response_id)
        return services.response_edit(response=response, answers=payload.answers, actor=ctx.actor)


@router.get("/surveys/{int:survey_id}/responses.csv", tags=[RESPONSES], response={200: None})
def export_responses(
    request: HttpRequest, survey_id: Id, filters: Query[ExportFilters]
) -> StreamingHttpResponse:
    """One row per response with its context (customer, conversation, order, agent, team,
    channel) and every answer, streamed as CSV."""
    ctx = require(request, "read")
    survey = selectors.survey_get(workspace=ctx.workspace, survey_id=survey_id)
    lines = selectors.response_csv_lines(
        workspace=ctx.workspace, survey=survey, filters=_response_filter(filters, survey.pk)
    )
    # Validate the filters before the first byte goes out: errors are problem documents.
    header = next(lines)
    response = StreamingHttpResponse(_chain(header, lines), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="survey-{survey.pk}-responses-{stamp}.csv"'
    )
    return response


def _chain(first: str, rest: Any) -> Any:
    yield first
    yield from rest


# --- Metrics --------------------------------------------------------------------------------


@router.get("/surveys/metrics", response=MetricsOut, tags=[RESULTS])
def survey_metrics(request: HttpRequest, filters: Query[MetricsFilters]) -> dict[str, Any]:
    """NPS (with its 95% confidence interval), CSAT %, CES average and response rate, in total
    and per group of `by`. Definitions: docs/decisions/0007-surveys.md."""
    ctx = require(request, "read")
    result = selectors.metric_counts(
        workspace=ctx.workspace,
        filters=selectors.ResponseFilter(
            survey_id=filters.survey_id, since=filters.since, until=filters.until
        ),
        by=filters.by,
    )
    return {
        "by": result.by,
        "totals": group_out(result.totals),
        "groups": [group_out(g, label) for g, label in result.groups],
    }


@router.get("/surveys/closed-loop", response=LoopOut, tags=[RESULTS])
def closed_loop_metrics(request: HttpRequest, period: Query[Period]) -> Any:
    """Share of poor answers followed up, time to first contact and to close the loop, and the
    change of score when the customer answered again."""
    ctx = require(request, "read")
    return selectors.closed_loop_summary(
        workspace=ctx.workspace, since=period.since, until=period.until
    )


# --- Follow-ups -----------------------------------------------------------------------------


@router.get("/surveys/followups", response=PageOut[FollowUpOut], tags=[FOLLOWUPS])
def list_followups(request: HttpRequest, filters: Query[FollowUpFilters]) -> dict[str, Any]:
    ctx = require(request, "read")
    page = selectors.followup_list(
        workspace=ctx.workspace,
        status=filters.status,
        owner_id=filters.owner_id,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_out(page.items, page.next_cursor)


@router.get("/surveys/followups/{int:followup_id}", response=FollowUpOut, tags=[FOLLOWUPS])
def get_followup(request: HttpRequest, followup_id: Id) -> Any:
    ctx = require(request, "read")
    return selectors.followup_get(workspace=ctx.workspace, followup_id=followup_id)


@router.post("/surveys/followups/{int:followup_id}/contact", response=FollowUpOut, tags=[FOLLOWUPS])
def record_followup_contact(request: HttpRequest, followup_id: Id) -> Any:
    """The owner reached the customer."""
    ctx = require(request, "write")
    with transaction.atomic():
        followup = selectors.followup_get(workspace=ctx.workspace, followup_id=followup_id)
        return services.followup_record_contact(followup=followup, actor=ctx.actor)


@router.post("/surveys/followups/{int:followup_id}/assign", response=FollowUpOut, tags=[FOLLOWUPS])
def assign_followup(request: HttpRequest, followup_id: Id, payload: AssignIn) -> Any:
    ctx = require(request, "write")
    with transaction.atomic():
        followup = selectors.followup_get(workspace=ctx.workspace, followup_id=followup_id)
        owner = _user(payload.owner_id, "owner_id")
        assert owner is not None
        return services.followup_assign(followup=followup, owner=owner, actor=ctx.actor)


@router.post("/surveys/followups/{int:followup_id}/close", response=FollowUpOut, tags=[FOLLOWUPS])
def close_followup_loop(request: HttpRequest, followup_id: Id, payload: CloseLoopIn) -> Any:
    """Record the root cause and the action taken, and tell the customer what changed."""
    ctx = require(request, "write")
    with transaction.atomic():
        followup = selectors.followup_get(workspace=ctx.workspace, followup_id=followup_id)
        return services.followup_close_loop(
            followup=followup,
            root_cause=payload.root_cause,
            action_taken=payload.action_taken,
            message=payload.message,
            actor=ctx.actor,
        )
