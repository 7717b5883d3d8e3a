"""Help center REST operations: articles (list, get, search), feedback. One function each:
parse, authorize (`require`), call one service or selector, serialise."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ascolto.core.api import Id, SearchTerm, Text, api_auth, require
from ascolto.helpcenter import selectors, services
from ascolto.helpcenter.models import Article, Feedback

router = Router(auth=api_auth)
TAG = "help center"

LanguageCode = Literal["en", "it", "he"]
StatusChoice = Literal["draft", "published"]


class TranslationOut(Schema):
    language: str
    slug: str
    title: str
    body_markdown: str
    body_html: str
    updated_at: dt.datetime


class ArticleOut(Schema):
    id: int
    slug: str
    status: str
    category: str | None
    view_count: int
    published_at: dt.datetime | None
    updated_at: dt.datetime
    translations: list[TranslationOut]


class SearchResultOut(Schema):
    article_id: int
    slug: str
    title: str
    snippet: str
    score: float


class ArticleFilters(Schema):
    status: StatusChoice | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class SearchParams(Schema):
    language: LanguageCode
    q: SearchTerm
    limit: Annotated[int, Field(ge=1, le=50)] = 10


class FeedbackIn(Schema):
    language: LanguageCode
    helpful: bool
    reason: Annotated[Text, Field(max_length=2000)] = ""


class FeedbackOut(Schema):
    id: int
    article_id: int
    language: str
    helpful: bool
    reason: str
    created_at: dt.datetime


def _article_out(article: Article) -> dict[str, Any]:
    return {
        "id": article.pk,
        "slug": article.slug,
        "status": article.status,
        "category": article.category.slug if article.category else None,
        "view_count": article.view_count,
        "published_at": article.published_at,
        "updated_at": article.updated_at,
        "translations": list(article.translations.all()),
    }


@router.get("/helpcenter/articles", response=list[ArticleOut], tags=[TAG])
def list_help_articles(
    request: HttpRequest, filters: Query[ArticleFilters]
) -> list[dict[str, Any]]:
    """Articles of the workspace with all their translations, most recently changed first."""
    ctx = require(request, "read")
    articles = selectors.article_list(workspace=ctx.workspace, status=filters.status)
    return [_article_out(article) for article in articles[: filters.limit]]


@router.get("/helpcenter/articles/search", response=list[SearchResultOut], tags=[TAG])
def search_help_articles(
    request: HttpRequest, params: Query[SearchParams]
) -> list[selectors.SearchResult]:
    """Published articles in `language` ranked for `q`, best first, with snippets."""
    ctx = require(request, "read")
    return selectors.search_articles(
        workspace=ctx.workspace, language=params.language, query=params.q, limit=params.limit
    )


@router.get("/helpcenter/articles/{article_id}", response=ArticleOut, tags=[TAG])
def get_help_article(request: HttpRequest, article_id: Id) -> dict[str, Any]:
    ctx = require(request, "read")
    article = selectors.article_get(workspace=ctx.workspace, article_id=article_id)
    return _article_out(article)


@router.get("/helpcenter/articles/{article_id}/feedback", response=list[FeedbackOut], tags=[TAG])
def list_help_feedback(request: HttpRequest, article_id: Id) -> list[Feedback]:
    """The article's "was this helpful?" answers, newest first (at most 500)."""
    ctx = require(request, "read")
    article = selectors.article_get(workspace=ctx.workspace, article_id=article_id)
    return list(article.feedback.filter(workspace=ctx.workspace).order_by("-id")[:500])


@router.post("/helpcenter/articles/{article_id}/feedback", response={201: FeedbackOut}, tags=[TAG])
def create_help_feedback(
    request: HttpRequest, article_id: Id, payload: FeedbackIn
) -> Status[Feedback]:
    """Record feedback given through another channel (the widget, an email survey)."""
    ctx = require(request, "write")
    with transaction.atomic():
        article = selectors.article_get(workspace=ctx.workspace, article_id=article_id)
        feedback = services.feedback_submit(
            article=article,
            language=payload.language,
            helpful=payload.helpful,
            reason=payload.reason,
        )
    return Status(201, feedback)
