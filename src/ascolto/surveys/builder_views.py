"""Staff survey builder: create a survey from a kind, edit its texts, questions, translations,
skip logic and triggers, preview the respond page in each language, activate or pause it.

Writes are for workspace admins (403 otherwise). Parsing lives in `builder_forms`; validation is
the services' own, the same the API uses, and its errors are shown next to the fields with the
input kept as typed. The editor works without JavaScript: adding, removing and moving a question
re-render the form unsaved.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ascolto.accounts.selectors import has_permission
from ascolto.core.actors import Actor
from ascolto.core.errors import Conflict, NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import current_workspace, render_in_workspace
from ascolto.inbox.models import Channel
from ascolto.surveys import builder_forms as forms
from ascolto.surveys import questions as q
from ascolto.surveys import selectors, services
from ascolto.surveys.conf import public_url
from ascolto.surveys.models import LANGUAGES, Question, Survey, Touchpoint
from ascolto.surveys.services import intercept
from ascolto.surveys.views import FACES

SECTION = "surveys"
LANGUAGE_LABELS = {"en": "English", "it": "Italiano", "he": "עברית"}

# A custom survey starts with one rating question, to be rewritten in the editor.
CUSTOM_STARTER = services.QuestionInput(
    key="rating",
    type=Question.Type.RATING,
    required=True,
    text="How would you rate your experience?",
    translations={
        "it": {"text": "Come valuteresti la tua esperienza?"},
        "he": {"text": "איך הייתם מדרגים את החוויה שלכם?"},
    },
)


def _admin_workspace(request: HttpRequest) -> Workspace:
    workspace = current_workspace(request)
    if not has_permission(user=request.user, workspace=workspace, permission="admin"):  # type: ignore[arg-type]
        raise PermissionDenied(_("Only workspace admins can change surveys."))
    return workspace


def _survey_or_404(workspace: Workspace, pk: int) -> Survey:
    try:
        return selectors.survey_get(workspace=workspace, survey_id=pk)
    except NotFound:
        raise Http404(_("No such survey in this workspace.")) from None


def _split_errors(
    field_errors: dict[str, list[str]], rows: list[forms.Row]
) -> dict[str, list[str]]:
    """Survey-level errors by field; question errors attached to their row as `errors`."""
    survey_errors: dict[str, list[str]] = {}
    for where, found in field_errors.items():
        parts = where.split(".")
        if parts[0] == "questions" and len(parts) > 2 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(rows):
                rows[index].setdefault("errors", {}).setdefault(parts[2], []).extend(found)
                continue
        if parts[0] == "translations" and len(parts) > 1:
            survey_errors.setdefault(f"tr_{parts[1]}", []).extend(found)
            continue
        survey_errors.setdefault(parts[0], []).extend(found)
    return survey_errors


# --- Create ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def survey_new(request: HttpRequest) -> HttpResponse:
    workspace = _admin_workspace(request)
    values = {"kind": "nps", "name": "", "title": "", "touchpoint": "support"}
    values["default_language"] = workspace_language(request)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {
            name: str(request.POST.get(name, "")).strip()
            for name in ("kind", "name", "title", "touchpoint", "default_language")
        }
        try:
            with transaction.atomic():
                survey = services.survey_create(
                    workspace=workspace,
                    actor=Actor.for_user(request.user),  # type: ignore[arg-type]
                    kind=values["kind"],
                    name=values["name"],
                    touchpoint=values["touchpoint"],
                    title=values["title"],
                    default_language=values["default_language"],
                    is_active=False,
                    questions=[CUSTOM_STARTER] if values["kind"] == Survey.Kind.CUSTOM else None,
                )
        except ValidationFailed as exc:
            errors = exc.field_errors
        else:
            messages.success(request, _("Survey created, paused until you activate it."))
            return redirect("surveys_staff:edit", survey.pk)
    context = {
        "values": values,
        "errors": errors,
        "kinds": Survey.Kind.choices,
        "touchpoints": Touchpoint.choices,
        "languages": [(c, LANGUAGE_LABELS[c]) for c in LANGUAGES],
        "section": SECTION,
    }
    return render_in_workspace(
        request, "surveys/staff/new.html", context, status=422 if errors else 200
    )


def workspace_language(request: HttpRequest) -> str:
    current = translation.get_language() or "en"
    return current if current in LANGUAGES else "en"


# --- Edit -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def survey_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The editor. POST `action=save` validates and saves everything; `add`, `remove-<i>`,
    `up-<i>` and `down-<i>` change the question rows and show the form again, unsaved."""
    workspace = _admin_workspace(request)
    survey = _survey_or_404(workspace, pk)
    locked = selectors.survey_has_responses(survey)
    suppression = services.settings_for(workspace).suppression_days
    if request.method == "GET":
        values = forms.survey_values(survey)
        rows = forms.rows_of(selectors.questions_of(survey))
        return _render_editor(request, survey, values, rows, {}, locked, str(suppression))
    values = forms.survey_values_from_post(request.POST)
    rows = (
        forms.rows_of(selectors.questions_of(survey))
        if locked
        else forms.rows_from_post(request.POST)
    )
    suppression_text = str(request.POST.get("suppression_days", "")).strip()
    action = str(request.POST.get("action", "save"))
    if action != "save":
        if not locked:
            rows = forms.move(rows, action)
        return _render_editor(request, survey, values, rows, {}, locked, suppression_text)
    fields, errors = forms.survey_fields(values)
    items, question_errors = (
        ([], {}) if locked else forms.questions_from_rows(rows, values["default_language"])
    )
    errors = {**_service_errors(survey, fields, items, locked), **errors, **question_errors}
    if not suppression_text.isdigit():
        errors["suppression_days"] = [_("Whole days, zero or more.")]
    if errors:
        survey_errors = _split_errors(errors, rows)
        return _render_editor(
            request, survey, values, rows, survey_errors, locked, suppression_text, status=422
        )
    actor = Actor.for_user(request.user)  # type: ignore[arg-type]
    try:
        with transaction.atomic():
            services.survey_update(survey=survey, actor=actor, **fields)
            if not locked:
                services.survey_set_questions(survey=survey, questions=items, actor=actor)
            if int(suppression_text) != suppression:
                services.settings_update(
                    workspace=workspace, actor=actor, suppression_days=int(suppression_text)
                )
    except ValidationFailed as exc:
        survey.refresh_from_db()
        survey_errors = _split_errors(exc.field_errors, rows)
        survey_errors.setdefault("form", []).append(exc.message)
        return _render_editor(
            request, survey, values, rows, survey_errors, locked, suppression_text, status=422
        )
    except Conflict as exc:
        survey.refresh_from_db()
        return _render_editor(
            request, survey, values, rows, {"form": [exc.message]}, locked, suppression_text, 409
        )
    messages.success(request, _("Survey saved."))
    return redirect("surveys_staff:edit", survey.pk)


def _service_errors(
    survey: Survey, fields: dict[str, Any], items: list[services.QuestionInput], locked: bool
) -> dict[str, list[str]]:
    """What the services would refuse, gathered up front so every error shows at once."""
    errors: dict[str, list[str]] = {}
    checks: list[Any] = [
        lambda: services.survey_validate({**forms.survey_values_of(survey), **fields})
    ]
    if not locked:
        checks.append(lambda: services.questions_validate(items))
    for check in checks:
        try:
            check()
        except ValidationFailed as exc:
            errors.update(exc.field_errors)
    return errors


def _render_editor(
    request: HttpRequest,
    survey: Survey,
    values: dict[str, Any],
    rows: list[forms.Row],
    errors: dict[str, list[str]],
    locked: bool,
    suppression: str,
    status: int = 200,
) -> HttpResponse:
    default = values.get("default_language") or survey.default_language
    others = [c for c in LANGUAGES if c != default]
    for index, row in enumerate(rows):
        row["index"] = index
        row["earlier"] = [r["key"] for r in rows[:index] if r["type"] != Question.Type.TEXT]
        row["is_choice"] = row["type"] in q.CHOICE_TYPES
        row["is_scale"] = row["type"] in q.SCALE_TYPES
        row["langs"] = [
            {
                "code": code,
                "label": LANGUAGE_LABELS[code],
                "texts": row["tr"].get(code, {}),
                "missing": not row["tr"].get(code, {}).get("text"),
            }
            for code in others
        ]
    context = {
        "survey": survey,
        "values": values,
        "rows": rows,
        "errors": errors,
        "locked": locked,
        "suppression_days": suppression,
        "default_label": LANGUAGE_LABELS.get(default, default),
        "survey_langs": [
            {
                "code": code,
                "label": LANGUAGE_LABELS[code],
                "texts": values["tr"].get(code, {}),
                "missing": not values["tr"].get(code, {}).get("title"),
                "errors": errors.get(f"tr_{code}", []),
            }
            for code in others
        ],
        "languages": [(c, LANGUAGE_LABELS[c]) for c in LANGUAGES],
        "touchpoints": Touchpoint.choices,
        "triggers": Survey.Trigger.choices,
        "channels": Channel.choices,
        "types": Question.Type.choices,
        "displays": Question.Display.choices,
        "skip_ops": [("in", _("is one of")), ("lte", _("is at most")), ("gte", _("is at least"))],
        "snippet_key": intercept.intercept_key(survey),
        "snippet_src": public_url(static("ascolto/intercept.js")),
        "section": SECTION,
    }
    return render_in_workspace(request, "surveys/staff/edit.html", context, status=status)


@login_required
@require_POST
def survey_activate(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = _admin_workspace(request)
    active = request.POST.get("active") == "1"
    with transaction.atomic():
        survey = _survey_or_404(workspace, pk)
        services.survey_update(
            survey=survey,
            actor=Actor.for_user(request.user),  # type: ignore[arg-type]
            is_active=active,
        )
    messages.success(request, _("Survey activated.") if active else _("Survey paused."))
    return redirect("surveys_staff:edit", survey.pk)


# --- Preview --------------------------------------------------------------------------------


@login_required
@require_GET
def survey_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The respond page as a customer would see it in `?lang=`, every question on one page
    (skip logic is not applied), with a form that goes nowhere."""
    survey = _survey_or_404(current_workspace(request), pk)
    language = request.GET.get("lang", survey.default_language)
    if language not in LANGUAGES:
        language = survey.default_language
    preview_url = reverse("surveys_staff:preview", args=[survey.pk])
    with translation.override(language):
        views = [q.localize(question, language) for question in selectors.questions_of(survey)]
        context = {
            "preview": True,
            "language": language,
            "rtl": translation.get_language_bidi(),
            "title": q.survey_text(survey, "title", language),
            "intro": q.survey_text(survey, "intro", language),
            "items": [
                {
                    "q": view,
                    "value": None,
                    "selected": [],
                    "errors": [],
                    "faces": view.type == "csat" and view.question.display == "faces",
                    "stars": view.question.display == "stars" and view.type in q.SCALE_TYPES,
                }
                for view in views
            ],
            "face_icons": FACES,
            "errors": {},
            "action": preview_url,
            "languages": [
                (code, LANGUAGE_LABELS[code], f"{preview_url}?lang={code}") for code in LANGUAGES
            ],
            "last_page": True,
        }
        response = render(request, "surveys/respond.html", context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
