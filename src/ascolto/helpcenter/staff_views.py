"""Staff pages of the help center under /help-admin/: articles, editor, history, content gaps.

Every page needs a signed-in member of the workspace; changes need the "write" permission.
The editor works without JavaScript: "Preview" posts the form and shows the rendered article
above it without saving.
"""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ascolto.accounts.models import User
from ascolto.accounts.selectors import has_permission
from ascolto.core.actors import Actor
from ascolto.core.errors import DomainError, NotFound
from ascolto.core.models import Workspace
from ascolto.core.views import current_workspace, render_in_workspace
from ascolto.helpcenter import selectors, services
from ascolto.helpcenter.markdown import render_markdown
from ascolto.helpcenter.models import Article, Category, Language

SECTION = "helpcenter"


def _writer(request: HttpRequest) -> tuple[Workspace, Actor]:
    workspace, user = current_workspace(request), cast(User, request.user)
    if not has_permission(user=user, workspace=workspace, permission="write"):
        raise PermissionDenied(_("Your role can read the help center but not change it."))
    return workspace, Actor.for_user(user)


def _article_or_404(workspace: Workspace, pk: int) -> Article:
    try:
        return selectors.article_get(workspace=workspace, article_id=pk)
    except NotFound:
        raise Http404(_("No such article in this workspace.")) from None


def _language_or_404(language: str) -> str:
    if language not in Language.values:
        raise Http404(_("No such language."))
    return language


@login_required
@require_GET
def article_list(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    status = request.GET.get("status", "")
    if status not in ("", *Article.Status.values):
        status = ""
    articles = list(selectors.article_list(workspace=workspace, status=status or None)[:500])
    return render_in_workspace(
        request,
        "helpcenter/staff_list.html",
        {
            "articles": articles,
            "status": status,
            "languages": Language.choices,
            "section": SECTION,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def article_new(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    categories = list(Category.objects.filter(workspace=workspace))
    values = {"slug": "", "category": "", "language": workspace.default_locale}
    error = ""
    if request.method == "POST":
        workspace, actor = _writer(request)
        values = {key: request.POST.get(key, "").strip() for key in values}
        category = next((c for c in categories if str(c.pk) == values["category"]), None)
        try:
            with transaction.atomic():
                article = services.article_create(
                    workspace=workspace, actor=actor, slug=values["slug"], category=category
                )
        except DomainError as exc:
            error = exc.message
        else:
            language = values["language"] if values["language"] in Language.values else "en"
            return redirect("helpcenter_staff:edit", pk=article.pk, lang=language)
    return render_in_workspace(
        request,
        "helpcenter/staff_new.html",
        {
            "values": values,
            "categories": categories,
            "languages": Language.choices,
            "error": error,
            "section": SECTION,
        },
        status=400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def translation_edit(request: HttpRequest, pk: int, lang: str) -> HttpResponse:
    workspace = current_workspace(request)
    article = _article_or_404(workspace, pk)
    language = _language_or_404(lang)
    current = selectors.translation_get(article=article, language=language)
    values = {
        "title": current.title if current else "",
        "slug": current.slug if current else "",
        "body_markdown": current.body_markdown if current else "",
    }
    preview = ""
    error = ""
    if request.method == "POST":
        workspace, actor = _writer(request)
        values = {key: request.POST.get(key, "") for key in values}
        if "preview" in request.POST:
            preview = render_markdown(values["body_markdown"])
        else:
            try:
                with transaction.atomic():
                    services.translation_save(
                        article=article,
                        actor=actor,
                        language=language,
                        title=values["title"],
                        body_markdown=values["body_markdown"],
                        slug=values["slug"],
                    )
            except DomainError as exc:
                error = exc.message
            else:
                messages.success(request, _("Saved."))
                return redirect("helpcenter_staff:edit", pk=article.pk, lang=language)
    return render_in_workspace(
        request,
        "helpcenter/staff_edit.html",
        {
            "article": article,
            "language": language,
            "language_label": Language(language).label,
            "languages": Language.choices,
            "translation": current,
            "values": values,
            "preview": preview,
            "error": error,
            "rtl": language == Language.HE,
            "section": SECTION,
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def article_status(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    workspace, actor = _writer(request)
    article = _article_or_404(workspace, pk)
    try:
        with transaction.atomic():
            if action == "publish":
                services.article_publish(article=article, actor=actor)
                messages.success(request, _("Published."))
            else:
                services.article_unpublish(article=article, actor=actor)
                messages.success(request, _("Moved back to drafts."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("helpcenter_staff:list")


@login_required
@require_GET
def translation_history(request: HttpRequest, pk: int, lang: str) -> HttpResponse:
    workspace = current_workspace(request)
    article = _article_or_404(workspace, pk)
    language = _language_or_404(lang)
    return render_in_workspace(
        request,
        "helpcenter/staff_history.html",
        {
            "article": article,
            "language": language,
            "language_label": Language(language).label,
            "revisions": selectors.revisions(article=article, language=language),
            "section": SECTION,
        },
    )


@login_required
@require_GET
def content_gaps(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    language = request.GET.get("language", "")
    if language not in ("", *Language.values):
        language = ""
    return render_in_workspace(
        request,
        "helpcenter/staff_gaps.html",
        {
            "gaps": selectors.content_gaps(workspace=workspace, language=language or None),
            "floor": selectors.GAP_SCORE_FLOOR,
            "language": language,
            "languages": Language.choices,
            "section": SECTION,
        },
    )
