"""The public survey pages: the response form at /s/<token>/ and the one-click email answer.

Light and without JavaScript: each page is a plain form, skip logic runs on the server between
pages (questions.next_page), and every page is saved, so a partial answer is kept. No cookies:
the signed token in the URL is what authorises the answer, which is also why these views are
exempt from CSRF (a cross-site form could not know the token; a CSRF cookie would only break
the page in browsers that refuse cookies).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from ascolto.core.errors import ValidationFailed
from ascolto.surveys import questions as q
from ascolto.surveys import ratelimit, selectors, services
from ascolto.surveys.definitions import invitation_for_page, survey_questions
from ascolto.surveys.models import Invitation, Question, Survey
from ascolto.surveys.questions import QuestionView

FACES = ["😞", "🙁", "😐", "🙂", "😀"]
# A page of a survey is a few answers of at most 5,000 characters each (questions.py); a body
# past this is not a survey page, and is refused before it is parsed.
MAX_SUBMIT_BYTES = 256 * 1024
MAX_CHOICES = 100


def _secure(response: HttpResponse) -> HttpResponse:
    # The URL carries the token: keep it out of caches, referrers and search engines.
    response["Cache-Control"] = "no-store, private"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _language(request: HttpRequest, invitation: Invitation | None) -> str:
    if invitation is None:
        return translation.get_language() or "en"
    wanted = request.GET.get("lang", "")
    return wanted if wanted in invitation.survey.languages else invitation.language


def _message(
    request: HttpRequest,
    *,
    language: str,
    title: str,
    text: str,
    status: int,
    survey: Survey | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    with translation.override(language):
        response = render(
            request,
            "surveys/message.html",
            {
                "title": title,
                "text": text,
                "language": language,
                "rtl": translation.get_language_bidi(),
                "survey_title": (q.survey_text(survey, "title", language) if survey else ""),
            },
            status=status,
        )
    for name, value in (headers or {}).items():
        response[name] = value
    return _secure(response)


def _rate_limited(request: HttpRequest) -> HttpResponse | None:
    wait = ratelimit.hit(request)
    if not wait:
        return None
    with translation.override(translation.get_language_from_request(request)):
        return _message(
            request,
            language=translation.get_language() or "en",
            title=_("Too many requests"),
            text=_("Please wait a minute and try again."),
            status=429,
            headers={"Retry-After": str(wait)},
        )


def _invalid(request: HttpRequest) -> HttpResponse:
    language = translation.get_language_from_request(request)
    with translation.override(language):
        return _message(
            request,
            language=language,
            title=_("This link is not valid"),
            text=_("Please open the link exactly as it appears in the message you received."),
            status=404,
        )


def _expired(request: HttpRequest, invitation: Invitation, language: str) -> HttpResponse:
    with translation.override(language):
        return _message(
            request,
            language=language,
            survey=invitation.survey,
            title=_("This survey has closed"),
            text=_(
                "The link has expired, so answers are no longer collected. Thank you all the same."
            ),
            status=410,
        )


def _done(
    request: HttpRequest, invitation: Invitation, language: str, *, just_now: bool
) -> HttpResponse:
    survey = invitation.survey
    with translation.override(language):
        if just_now:
            title = _("Thank you!")
            text = q.survey_text(survey, "thanks", language) or _("Your answers were recorded.")
        else:
            title = _("You have already answered")
            text = _("Your answers to this survey were recorded. Thank you!")
        return _message(
            request, language=language, survey=survey, title=title, text=text, status=200
        )


def _is_expired(invitation: Invitation) -> bool:
    return invitation.expires_at is not None and invitation.expires_at <= timezone.now()


def _page_url(token: str, language: str, invitation: Invitation, **extra: str) -> str:
    params = dict(extra)
    if language != invitation.language:
        params["lang"] = language
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("surveys:respond", args=[token]) + (f"?{query}" if query else "")


def _render_form(
    request: HttpRequest,
    *,
    token: str,
    invitation: Invitation,
    language: str,
    questions: list[Question],
    page: list[Question],
    answers: dict[str, Any],
    errors: dict[str, list[str]],
    posted: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    survey = invitation.survey
    with translation.override(language):
        views: list[QuestionView] = [q.localize(question, language) for question in page]
        values = posted if posted is not None else answers
        context = {
            "language": language,
            "rtl": translation.get_language_bidi(),
            "title": q.survey_text(survey, "title", language),
            "intro": q.survey_text(survey, "intro", language) if not answers else "",
            "items": [
                {
                    "q": view,
                    "value": values.get(view.key),
                    "selected": _as_list(values.get(view.key)),
                    "errors": errors.get(view.key, []),
                    "faces": view.type == "csat" and view.question.display == "faces",
                    "stars": view.question.display == "stars" and view.type in q.SCALE_TYPES,
                }
                for view in views
            ],
            "face_icons": FACES,
            "errors": errors,
            "action": _page_url(token, language, invitation),
            "languages": [
                (
                    code,
                    selectors.LANGUAGE_NAMES.get(code, code),
                    reverse("surveys:respond", args=[token]) + f"?lang={code}",
                )
                for code in survey.languages
            ]
            if len(survey.languages) > 1
            else [],
            "last_page": not _more_after(questions, page),
        }
        response = render(request, "surveys/respond.html", context, status=status)
    return _secure(response)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _more_after(questions: list[Question], page: list[Question]) -> bool:
    """Whether another page may follow this one (a guess for the button label: skip logic
    can still end the survey early)."""
    if not page:
        return False
    last = page[-1].position
    return any(question.position > last for question in questions)


def _too_large(request: HttpRequest, language: str, invitation: Invitation) -> HttpResponse:
    return _message(
        request,
        language=language,
        survey=invitation.survey,
        title=_("Your answers are too long"),
        text=_("Please shorten your answers and send them again."),
        status=413,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def respond(request: HttpRequest, token: str) -> HttpResponse:
    """The survey page: the next unanswered page of questions; POST saves it (partial answers
    are kept) and redirects to the next one, or to the thank-you page when done.

    Answers go through the intake (services/intake.py): what the page shows is the processed
    response with the submissions still pending applied, so it never waits for the worker."""
    limited = _rate_limited(request)
    if limited is not None:
        return limited
    invitation = invitation_for_page(token)
    if invitation is None:
        return _invalid(request)
    language = _language(request, invitation)
    questions = survey_questions(invitation.survey)
    state = services.page_state(invitation=invitation, questions=questions)
    if state.completed:
        if request.method == "POST":  # a double submit: the first one was recorded
            return HttpResponseRedirect(_page_url(token, language, invitation, done="1"))
        return _done(request, invitation, language, just_now=request.GET.get("done") == "1")
    if _is_expired(invitation):
        return _expired(request, invitation, language)
    if request.method == "GET":
        services.invitation_mark_opened(invitation=invitation)
        return _render_form(
            request,
            token=token,
            invitation=invitation,
            language=language,
            questions=questions,
            page=q.next_page(questions, state.answers),
            answers=state.answers,
            errors={},
        )
    return _submit(
        request,
        token=token,
        invitation=invitation,
        language=language,
        questions=questions,
        state=state,
    )


def _submit(
    request: HttpRequest,
    *,
    token: str,
    invitation: Invitation,
    language: str,
    questions: list[Question],
    state: services.PageState,
) -> HttpResponse:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_SUBMIT_BYTES:
        return _too_large(request, language, invitation)
    by_key = {question.key: question for question in questions}
    keys = [k for k in dict.fromkeys(request.POST.getlist("q")) if k][: len(questions)]
    if not keys or any(k not in by_key for k in keys):
        return _message(
            request,
            language=language,
            survey=invitation.survey,
            title=_("Something is missing"),
            text=_("The form was incomplete. Please go back and try again."),
            status=400,
        )
    posted: dict[str, Any] = {
        key: request.POST.getlist(key)[:MAX_CHOICES]
        if by_key[key].type == Question.Type.MULTIPLE_CHOICE
        else request.POST.get(key, "")
        for key in keys
    }
    try:
        accepted = services.submission_accept(
            invitation=invitation,
            questions=questions,
            state=state,
            answers=posted,
            keys=keys,
            language=language,
        )
    except ValidationFailed as exc:
        page = [by_key[k] for k in keys]
        return _render_form(
            request,
            token=token,
            invitation=invitation,
            language=language,
            questions=questions,
            page=page,
            answers=state.answers,
            errors=exc.field_errors,
            posted=posted,
            status=422,
        )
    if accepted.completes:
        return HttpResponseRedirect(_page_url(token, language, invitation, done="1"))
    return HttpResponseRedirect(_page_url(token, language, invitation))


@csrf_exempt
@require_GET
def answer(request: HttpRequest, token: str, score: int) -> HttpResponse:
    """The one-click answer from the email: record the first question's score (once; a second
    click changes it while the survey is unfinished), then show the rest of the survey."""
    limited = _rate_limited(request)
    if limited is not None:
        return limited
    invitation = invitation_for_page(token)
    if invitation is None:
        return _invalid(request)
    language = _language(request, invitation)
    questions = survey_questions(invitation.survey)
    state = services.page_state(invitation=invitation, questions=questions)
    if state.completed:
        return _done(request, invitation, language, just_now=False)
    if _is_expired(invitation):
        return _expired(request, invitation, language)
    first = next(iter(questions), None)
    if first is None or first.type not in q.SCALE_TYPES:
        return HttpResponseRedirect(_page_url(token, language, invitation))
    low, high = q.scale(first)
    if not low <= score <= high:
        return _message(
            request,
            language=language,
            survey=invitation.survey,
            title=_("That answer is not on the scale"),
            text=_("Please choose your answer on the survey page."),
            status=400,
        )
    accepted = services.submission_accept(
        invitation=invitation,
        questions=questions,
        state=state,
        answers={first.key: score},
        keys=[first.key],
        language=language,
    )
    if accepted.completes:
        return HttpResponseRedirect(_page_url(token, language, invitation, done="1"))
    return HttpResponseRedirect(_page_url(token, language, invitation))
