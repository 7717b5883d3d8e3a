"""The "why?" comment the web chat widget sends after the visitor tapped a score.

`POST /s/<token>/comment/` with a `text/plain` JSON body `{"comment": "..."}` (a simple
request: no CORS preflight). The survey token is the authorisation: the widget received it on
its visitor-authenticated socket when the chat ended, as the link of that visitor's invitation,
and no cookie is involved (so any origin may post; `Access-Control-Allow-Origin: *`). The
comment goes into the survey's first free-text question of the same response, which the score
tap created; the response is then complete unless other questions remain.

| Status | When |
|--------|------|
| 201 `{"recorded": true}` | stored |
| 400 `invalid_json` / `invalid` | not a JSON object, or `comment` not 1 to 2,000 characters |
| 404 `invalid_link` | the token names no invitation |
| 409 `no_score` / `already_answered` / `no_comment_question` / `expired` | nothing to add it to |
| 429 | more than `ASCOLTO_SURVEYS_PAGE_HITS` requests a minute from one IP |
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ascolto.core.errors import ValidationFailed
from ascolto.surveys import questions as q
from ascolto.surveys import ratelimit, selectors, services
from ascolto.surveys.definitions import survey_questions

MAX_COMMENT = 2000
MAX_BODY = 16 * 1024


def _json(body: dict[str, Any], status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def chat_comment(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "OPTIONS":
        preflight = HttpResponse(status=204)
        preflight["Access-Control-Allow-Origin"] = "*"
        preflight["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        preflight["Access-Control-Allow-Headers"] = "Content-Type"
        return preflight
    wait = ratelimit.hit(request)
    if wait:
        limited = _json({"error": "rate_limited"}, 429)
        limited["Retry-After"] = str(wait)
        return limited
    invitation = selectors.invitation_for_token(token)
    if invitation is None:
        return _json({"error": "invalid_link"}, 404)
    if len(request.body) > MAX_BODY:
        return _json({"error": "invalid", "field_errors": {"comment": ["Too long."]}}, 400)
    try:
        payload = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _json({"error": "invalid_json"}, 400)
    comment = payload.get("comment") if isinstance(payload, dict) else None
    if not isinstance(comment, str) or not 1 <= len(comment.strip()) <= MAX_COMMENT:
        return _json(
            {
                "error": "invalid",
                "field_errors": {"comment": [f"A comment of 1 to {MAX_COMMENT} characters."]},
            },
            400,
        )
    questions = survey_questions(invitation.survey)
    state = services.page_state(invitation=invitation, questions=questions)
    if not state.answers and not state.completed:
        return _json({"error": "no_score"}, 409)
    if state.completed:
        return _json({"error": "already_answered"}, 409)
    question = next((x for x in questions if x.type == q.QType.TEXT), None)
    if question is None:
        return _json({"error": "no_comment_question"}, 409)
    if invitation.expires_at is not None and invitation.expires_at <= timezone.now():
        return _json({"error": "expired"}, 409)
    try:
        services.submission_accept(
            invitation=invitation,
            questions=questions,
            state=state,
            answers={question.key: comment.strip()},
            keys=[question.key],
            language=invitation.language,
        )
    except ValidationFailed as exc:
        return _json({"error": "invalid", "field_errors": exc.field_errors}, 400)
    return _json({"recorded": True}, 201)
