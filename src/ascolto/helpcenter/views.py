"""The public help center: /help/<workspace>/..., server-rendered, no JavaScript needed.

Pages render in the language of their URL (Hebrew right to left). Only published articles
exist here; a draft, an unknown slug and another workspace's article are the same 404. The
feedback form is exempt from CSRF like the public survey pages: readers are anonymous and
have no session, and a forged "helpful" vote gains an attacker nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.helpcenter import selectors, services
from ascolto.helpcenter.models import RTL_LANGUAGES, ArticleTranslation, Language

MAX_QUERY = 200
POPULAR = 8
RESULTS = 10


def _workspace(slug: str) -> Workspace:
    try:
        return selectors.workspace_by_slug(slug)
    except NotFound:
        raise Http404(_("No such help center.")) from None


def _check_language(language: str) -> None:
    if language not in Language.values:
        raise Http404(_("This help center has no such language."))


def _render(
    request: HttpRequest,
    template: str,
    *,
    workspace: Workspace,
    language: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    with translation.override(language):
        languages = [
            (code, str(label), reverse("helpcenter:home_in", args=[workspace.slug, code]))
            for code, label in Language.choices
        ]
        response = render(
            request,
            template,
            {
                "workspace": workspace,
                "language": language,
                "rtl": language in RTL_LANGUAGES,
                "languages": languages,
                **context,
            },
            status=status,
        )
    response.headers["Content-Language"] = language
    return response


def _home(request: HttpRequest, workspace: Workspace, language: str) -> HttpResponse:
    popular = selectors.popular_translations(workspace=workspace, language=language, limit=POPULAR)
    categories = [
        (category, category.name_in(language), count)
        for category, count in selectors.categories(workspace=workspace, language=language)
        if count
    ]
    return _render(
        request,
        "helpcenter/home.html",
        workspace=workspace,
        language=language,
        context={"popular": popular, "categories": categories},
    )


@require_GET
def home(request: HttpRequest, ws: str) -> HttpResponse:
    """The help center in the reader's language when offered, else the workspace's default."""
    workspace = _workspace(ws)
    language = getattr(request, "LANGUAGE_CODE", "") or ""
    if language not in Language.values:
        language = workspace.default_locale if workspace.default_locale in Language.values else "en"
    return _home(request, workspace, language)


@require_GET
def home_in(request: HttpRequest, ws: str, lang: str) -> HttpResponse:
    _check_language(lang)
    return _home(request, _workspace(ws), lang)


@require_GET
def category(request: HttpRequest, ws: str, lang: str, slug: str) -> HttpResponse:
    _check_language(lang)
    workspace = _workspace(ws)
    try:
        found = selectors.category_get(workspace=workspace, slug=slug)
    except NotFound:
        raise Http404(_("No such category.")) from None
    articles = selectors.popular_translations(
        workspace=workspace, language=lang, category=found, limit=200
    )
    return _render(
        request,
        "helpcenter/category.html",
        workspace=workspace,
        language=lang,
        context={"category": found, "category_name": found.name_in(lang), "articles": articles},
    )


def _public_translation(workspace: Workspace, lang: str, slug: str) -> ArticleTranslation:
    try:
        return selectors.public_translation(workspace=workspace, language=lang, slug=slug)
    except NotFound:
        raise Http404(_("No such article.")) from None


@require_GET
def article(request: HttpRequest, ws: str, lang: str, slug: str) -> HttpResponse:
    _check_language(lang)
    workspace = _workspace(ws)
    found = _public_translation(workspace, lang, slug)
    with transaction.atomic():
        services.article_record_view(article=found.article)
        search_id = request.GET.get("sq", "")
        if search_id.isdigit() and len(search_id) < 19:
            services.search_click(
                workspace=workspace, search_id=int(search_id), article=found.article
            )
    others = [
        (other, Language(other.language).label)
        for other in selectors.other_translations(translation=found)
    ]
    return _render(
        request,
        "helpcenter/article.html",
        workspace=workspace,
        language=lang,
        context={
            "translation": found,
            "category_name": found.article.category.name_in(lang) if found.article.category else "",
            "related": selectors.related_translations(translation=found, limit=5),
            "others": others,
            "thanks": request.GET.get("thanks") == "1",
        },
    )


@csrf_exempt
@require_POST
def feedback(request: HttpRequest, ws: str, lang: str, slug: str) -> HttpResponse:
    """Store a yes/no answer with an optional reason, then show the article again (PRG)."""
    _check_language(lang)
    workspace = _workspace(ws)
    found = _public_translation(workspace, lang, slug)
    helpful = request.POST.get("helpful", "")
    if helpful not in ("yes", "no"):
        with translation.override(lang):
            message = _("Answer “yes” or “no”.")
        return _render(
            request,
            "helpcenter/message.html",
            workspace=workspace,
            language=lang,
            context={"message": message},
            status=400,
        )
    try:
        with transaction.atomic():
            services.feedback_submit(
                article=found.article,
                language=lang,
                helpful=helpful == "yes",
                reason=request.POST.get("reason", ""),
            )
    except ValidationFailed as exc:
        return _render(
            request,
            "helpcenter/message.html",
            workspace=workspace,
            language=lang,
            context={"message": exc.message},
            status=400,
        )
    url = reverse("helpcenter:article", args=[ws, lang, found.slug])
    return HttpResponseRedirect(f"{url}?thanks=1#feedback")


@require_GET
def search(request: HttpRequest, ws: str, lang: str) -> HttpResponse:
    _check_language(lang)
    workspace = _workspace(ws)
    query = request.GET.get("q", "").strip()
    if len(query) > MAX_QUERY or "\x00" in query:
        with translation.override(lang):
            message = _("Search for at most %(n)s characters.") % {"n": MAX_QUERY}
        return _render(
            request,
            "helpcenter/message.html",
            workspace=workspace,
            language=lang,
            context={"message": message},
            status=400,
        )
    results: list[selectors.SearchResult] = []
    search_id = None
    if query:
        results = selectors.search_articles(
            workspace=workspace, language=lang, query=query, limit=RESULTS
        )
        with transaction.atomic():
            logged = services.search_log(
                workspace=workspace,
                language=lang,
                query=query,
                result_count=len(results),
                top_score=results[0].score if results else 0.0,
            )
        search_id = logged.pk
    suffix = "?" + urlencode({"sq": search_id}) if search_id else ""
    rows = [
        (result, reverse("helpcenter:article", args=[ws, lang, result.slug]) + suffix)
        for result in results
    ]
    return _render(
        request,
        "helpcenter/search.html",
        workspace=workspace,
        language=lang,
        context={"query": query, "rows": rows},
    )
