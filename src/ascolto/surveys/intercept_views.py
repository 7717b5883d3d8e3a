"""Public endpoints of the website intercept snippet: its settings (GET) and the answer (POST),
at /s/intercept/<key>/. Cross-origin: allowed for the origins the workspace's web chat widgets
allow (connectors/webchat), refused otherwise; rate-limited per IP like the survey pages.

The snippet posts `text/plain` JSON, a "simple" request without a preflight; OPTIONS answers a
preflight all the same for clients that send one.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ascolto.connectors.webchat import selectors as webchat_selectors
from ascolto.core.errors import ValidationFailed
from ascolto.surveys import questions as q
from ascolto.surveys import ratelimit
from ascolto.surveys.models import Survey
from ascolto.surveys.services import intercept

MAX_BODY = 4096


def _json(data: dict[str, Any], status: int = 200, origin: str = "") -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    response["Vary"] = "Origin"
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
    return response


def _origin(request: HttpRequest, survey: Survey) -> str | None:
    """The request's origin when allowed ("" for a same-origin or non-browser request without
    one), None when refused."""
    origin = request.headers.get("Origin", "")
    if not origin:
        return ""
    allowed = webchat_selectors.workspace_origin_allowed(
        workspace_id=survey.workspace_id, origin=origin, server_host=request.get_host()
    )
    return origin if allowed else None


def _config(survey: Survey, request: HttpRequest, origin: str) -> JsonResponse:
    question = intercept.first_question(survey)
    if question is None:
        return _json({"error": "not_found"}, 404, origin)
    wanted = request.GET.get("lang", "")[:2]
    language = wanted if wanted in survey.languages else survey.default_language
    visitor = request.GET.get("visitor", "")[: intercept.MAX_VISITOR]
    with translation.override(language):
        view = q.localize(question, language)
        data = {
            "ask": not (visitor and intercept.recently_answered(survey=survey, visitor=visitor)),
            "share": survey.sampling_rate,
            "days": intercept.suppression_days(survey),
            "lang": language,
            "dir": "rtl" if translation.get_language_bidi() else "ltr",
            "title": q.survey_text(survey, "title", language),
            "question": view.text,
            "points": view.points,
            "low": view.low_label,
            "high": view.high_label,
            "thanks": q.survey_text(survey, "thanks", language)
            or translation.gettext("Thank you!"),
            "close": _("Close"),
        }
    return _json(data, 200, origin)


@csrf_exempt
@require_http_methods(["GET", "POST", "OPTIONS"])
def intercept_endpoint(request: HttpRequest, key: str) -> HttpResponse:
    if ratelimit.hit(request):
        return _json({"error": "rate_limited"}, 429, request.headers.get("Origin", ""))
    survey = intercept.survey_for_key(key)
    if survey is None:
        return _json({"error": "not_found"}, 404)
    origin = _origin(request, survey)
    if origin is None:
        return _json({"error": "origin_not_allowed"}, 403)
    if request.method == "OPTIONS":
        return _json({}, 200, origin)
    if request.method == "GET":
        return _config(survey, request, origin)
    if len(request.body) > MAX_BODY:
        return _json({"error": "too_large"}, 413, origin)
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return _json({"error": "invalid_json"}, 400, origin)
    try:
        result = intercept.intercept_answer_record(survey=survey, payload=payload)
    except ValidationFailed as exc:
        return _json(
            {"error": "invalid", "message": exc.message, "field_errors": exc.field_errors},
            400,
            origin,
        )
    if not result.created:
        return _json({"error": "already_answered"}, 409, origin)
    return _json({"recorded": True}, 201, origin)
