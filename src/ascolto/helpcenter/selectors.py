"""Help center reads. Every selector takes the workspace and filters by it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Avg, Count, Max, Q, QuerySet

from ascolto.core.errors import NotFound
from ascolto.core.models import Workspace
from ascolto.helpcenter.models import (
    Article,
    ArticleTranslation,
    Category,
    Revision,
    SearchQuery,
)
from ascolto.helpcenter.search import registry
from ascolto.helpcenter.search.analysis import fold, words

SNIPPET_CHARS = 180
MAX_LIMIT = 50
# A search whose best answer scores under this is a content gap (see docs/helpcenter.md).
GAP_SCORE_FLOOR = 0.35


@dataclass(frozen=True, slots=True)
class SearchResult:
    article_id: int
    translation_id: int
    slug: str
    title: str
    snippet: str
    score: float


def workspace_by_slug(slug: str) -> Workspace:
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise NotFound(f"No help center {slug!r}.")
    return workspace


def published_translations(*, workspace: Workspace, language: str) -> QuerySet[ArticleTranslation]:
    return ArticleTranslation.objects.filter(
        workspace=workspace, language=language, article__status=Article.Status.PUBLISHED
    ).select_related("article")


def categories(*, workspace: Workspace, language: str) -> list[tuple[Category, int]]:
    """Categories with the number of published articles each has in `language`."""
    rows = Category.objects.filter(workspace=workspace).annotate(
        published=Count(
            "articles__translations",
            filter=Q(
                articles__status=Article.Status.PUBLISHED,
                articles__translations__language=language,
            ),
        )
    )
    return [(category, category.published) for category in rows]


def category_get(*, workspace: Workspace, slug: str) -> Category:
    category = Category.objects.filter(workspace=workspace, slug=slug).first()
    if category is None:
        raise NotFound(f"No category {slug!r} in this workspace.")
    return category


def popular_translations(
    *, workspace: Workspace, language: str, limit: int = 10, category: Category | None = None
) -> list[ArticleTranslation]:
    qs = published_translations(workspace=workspace, language=language)
    if category is not None:
        qs = qs.filter(article__category=category)
    return list(qs.order_by("-article__view_count", "title")[:limit])


def public_translation(*, workspace: Workspace, language: str, slug: str) -> ArticleTranslation:
    """A published article's text by its slug; NotFound for drafts, unknown and foreign slugs."""
    translation = (
        published_translations(workspace=workspace, language=language)
        .select_related("article__category")
        .filter(slug=slug)
        .first()
    )
    if translation is None:
        raise NotFound(f"No published article {slug!r}.")
    return translation


def other_translations(*, translation: ArticleTranslation) -> list[ArticleTranslation]:
    return list(
        ArticleTranslation.objects.filter(
            workspace_id=translation.workspace_id, article_id=translation.article_id
        )
        .exclude(pk=translation.pk)
        .order_by("language")
    )


def _snippet(text: str, query: str) -> str:
    """A window of `text` around the first word of the query it contains."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= SNIPPET_CHARS:
        return text
    folded = fold(text)
    # fold() keeps the length of Latin and Hebrew text, so positions map back.
    start = 0
    if len(folded) == len(text):
        positions = [folded.find(w) for w in words(query) if len(w) > 2 and w in folded]
        if positions:
            start = max(0, min(positions) - SNIPPET_CHARS // 3)
    cut = text[start : start + SNIPPET_CHARS]
    return ("…" if start else "") + cut.strip() + "…"


def _clamp(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))


def search_articles(
    *, workspace: Workspace, language: str, query: str, limit: int = 10
) -> list[SearchResult]:
    """Published articles in `language` ranked for `query` (hybrid BM25 + embeddings), with a
    snippet of each; scores are comparable across queries (see search/index.py)."""
    if not query.strip():
        return []
    hits = registry.index_for(workspace.pk, language).search(query, limit=_clamp(limit))
    by_id = {
        t.pk: t
        for t in ArticleTranslation.objects.filter(
            workspace=workspace, pk__in=[hit.key for hit in hits]
        ).only("id", "article_id", "slug", "title", "body_text")
    }
    results = []
    for hit in hits:
        translation = by_id.get(hit.key)
        if translation is None:
            continue
        results.append(
            SearchResult(
                article_id=translation.article_id,
                translation_id=translation.pk,
                slug=translation.slug,
                title=translation.title,
                snippet=_snippet(translation.body_text, query),
                score=hit.score,
            )
        )
    return results


def suggest_articles(
    *, workspace: Workspace, language: str, text: str, limit: int = 3
) -> list[SearchResult]:
    """Articles worth offering for a customer's message before an agent answers (deflection):
    the search results that clear the content-gap floor, so weak guesses are not shown."""
    return [
        result
        for result in search_articles(
            workspace=workspace, language=language, query=text[:1000], limit=limit
        )
        if result.score >= GAP_SCORE_FLOOR
    ]


def related_translations(*, translation: ArticleTranslation, limit: int = 5) -> list[SearchResult]:
    """Other published articles close to this one (its title as the query)."""
    results = search_articles(
        workspace=translation.workspace,
        language=translation.language,
        query=translation.title,
        limit=limit + 1,
    )
    return [r for r in results if r.translation_id != translation.pk][:limit]


@dataclass(frozen=True, slots=True)
class ContentGap:
    normalized_query: str
    example: str
    language: str
    searches: int
    no_results: int
    best_score: float
    clicked: int


def content_gaps(
    *,
    workspace: Workspace,
    language: str | None = None,
    floor: float = GAP_SCORE_FLOOR,
    limit: int = 100,
) -> list[ContentGap]:
    """Searches that found nothing or nothing good (top score under `floor`), grouped by
    normalised query, most frequent first."""
    qs = SearchQuery.objects.filter(workspace=workspace).filter(
        Q(result_count=0) | Q(top_score__lt=floor)
    )
    if language:
        qs = qs.filter(language=language)
    rows = (
        qs.values("normalized_query", "language")
        .annotate(
            searches=Count("id"),
            no_results=Count("id", filter=Q(result_count=0)),
            best_score=Max("top_score"),
            clicked=Count("clicked_article"),
            example=Max("query"),
        )
        .order_by("-searches", "normalized_query")[:limit]
    )
    return [
        ContentGap(
            normalized_query=row["normalized_query"],
            example=row["example"],
            language=row["language"],
            searches=row["searches"],
            no_results=row["no_results"],
            best_score=float(row["best_score"] or 0.0),
            clicked=row["clicked"],
        )
        for row in rows
    ]


def article_list(*, workspace: Workspace, status: str | None = None) -> QuerySet[Article]:
    qs = Article.objects.filter(workspace=workspace).prefetch_related("translations")
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("category").annotate(
        helpful=Count("feedback", filter=Q(feedback__helpful=True)),
        unhelpful=Count("feedback", filter=Q(feedback__helpful=False)),
    )


def article_get(*, workspace: Workspace, article_id: int) -> Article:
    article = Article.objects.filter(workspace=workspace, pk=article_id).first()
    if article is None:
        raise NotFound(f"No article #{article_id} in this workspace.")
    return article


def translation_get(*, article: Article, language: str) -> ArticleTranslation | None:
    return ArticleTranslation.objects.filter(article=article, language=language).first()


def revisions(*, article: Article, language: str, limit: int = 100) -> list[Revision]:
    return list(
        Revision.objects.filter(
            workspace_id=article.workspace_id,
            translation__article=article,
            translation__language=language,
        )
        .select_related("author")
        .order_by("-created_at", "-id")[:limit]
    )


def feedback_summary(*, workspace: Workspace, article: Article) -> dict[str, float]:
    row = article.feedback.filter(workspace=workspace).aggregate(
        total=Count("id"), helpful=Count("id", filter=Q(helpful=True)), avg=Avg("helpful")
    )
    return {"total": row["total"], "helpful": row["helpful"]}
