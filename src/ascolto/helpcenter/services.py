"""Help center writes. The caller owns the transaction (`transaction.atomic`).

Every edit of a translation appends a Revision; publishing and unpublishing change what the
public pages and the search show, and drop this process's search index after commit (other
processes notice the change through the workspace's IndexVersion, see search/registry.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug, validate_unicode_slug
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import Conflict, NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.helpcenter.markdown import markdown_to_text, render_markdown
from ascolto.helpcenter.models import (
    Article,
    ArticleTranslation,
    Category,
    Feedback,
    Language,
    Revision,
    SearchQuery,
)
from ascolto.helpcenter.search import embeddings, registry
from ascolto.helpcenter.search.analysis import normalize_query

MAX_TITLE = 250
MAX_BODY = 100_000
MAX_REASON = 2000
MAX_QUERY = 200


def _check_language(language: str) -> None:
    if language not in Language.values:
        raise ValidationFailed(
            _("Unknown language."),
            field_errors={
                "language": [_("Choose one of: %(l)s.") % {"l": ", ".join(Language.values)}]
            },
        )


def _check_slug(slug: str, *, unicode: bool = False) -> None:
    try:
        (validate_unicode_slug if unicode else validate_slug)(slug)
    except ValidationError:
        raise ValidationFailed(
            _("The slug may contain only letters, digits, hyphens and underscores."),
            field_errors={"slug": [_("Use letters, digits, hyphens and underscores.")]},
        ) from None


def category_create(
    *, workspace: Workspace, slug: str, names: dict[str, str], position: int = 0
) -> Category:
    _check_slug(slug)
    for language in names:
        _check_language(language)
    if Category.objects.filter(workspace=workspace, slug=slug).exists():
        raise Conflict(_("A category with this slug exists already."))
    return Category.objects.create(workspace=workspace, slug=slug, names=names, position=position)


def article_create(
    *, workspace: Workspace, actor: Actor, slug: str, category: Category | None = None
) -> Article:
    _check_slug(slug)
    if category is not None and category.workspace_id != workspace.pk:
        raise NotFound(_("No such category in this workspace."))
    if Article.objects.filter(workspace=workspace, slug=slug).exists():
        raise Conflict(_("An article with this slug exists already."))
    article = Article.objects.create(
        workspace=workspace, slug=slug, category=category, author=actor.user
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="helpcenter.article.created",
        object_type="article",
        object_id=article.pk,
    )
    return article


def _unique_translation_slug(article: Article, language: str, wanted: str) -> str:
    taken = set(
        ArticleTranslation.objects.filter(
            workspace_id=article.workspace_id, language=language, slug__startswith=wanted
        )
        .exclude(article=article)
        .values_list("slug", flat=True)
    )
    slug, n = wanted, 2
    while slug in taken:
        slug = f"{wanted}-{n}"
        n += 1
    return slug


def _embedding(language: str, title: str, body_text: str) -> tuple[bytes | None, str]:
    encoder = embeddings.encoder_for(language)
    if encoder is None:
        return None, ""
    vector = embeddings.encode_unit(encoder, [embeddings.embedding_text(title, body_text)])[0]
    return np.asarray(vector, dtype=np.float32).tobytes(), encoder.name


def translation_save(
    *,
    article: Article,
    actor: Actor,
    language: str,
    title: str,
    body_markdown: str,
    slug: str = "",
) -> ArticleTranslation:
    """Create or update the article's text in `language` and append a revision.

    The slug defaults to the title's (Unicode letters kept, so Hebrew titles have Hebrew slugs)
    and is made unique within the workspace and language by a numeric suffix.
    """
    _check_language(language)
    title = title.strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [_("A title is required.")]
    elif len(title) > MAX_TITLE:
        errors["title"] = [_("At most %(n)s characters.") % {"n": MAX_TITLE}]
    if len(body_markdown) > MAX_BODY:
        errors["body_markdown"] = [_("At most %(n)s characters.") % {"n": MAX_BODY}]
    if errors:
        raise ValidationFailed(_("The article text is not valid."), field_errors=errors)
    slug = slug.strip() or slugify(title, allow_unicode=True)[:100] or article.slug
    _check_slug(slug, unicode=True)
    slug = _unique_translation_slug(article, language, slug)
    body_html = render_markdown(body_markdown)
    body_text = markdown_to_text(body_markdown)
    blob, model = _embedding(language, title, body_text)
    translation, created = ArticleTranslation.objects.update_or_create(
        article=article,
        language=language,
        defaults={
            "workspace_id": article.workspace_id,
            "slug": slug,
            "title": title,
            "body_markdown": body_markdown,
            "body_html": body_html,
            "body_text": body_text,
            "embedding": blob,
            "embedding_model": model,
        },
    )
    Revision.objects.create(
        workspace_id=article.workspace_id,
        translation=translation,
        author=actor.user,
        title=title,
        body_markdown=body_markdown,
    )
    audit_record(
        workspace=article.workspace,
        actor=actor,
        action="helpcenter.translation.created" if created else "helpcenter.translation.updated",
        object_type="article",
        object_id=article.pk,
        changes={"language": language},
    )
    _invalidate_on_commit(article.workspace_id, language)
    return translation


def _invalidate_on_commit(workspace_id: int, language: str | None = None) -> None:
    registry.bump(workspace_id)
    transaction.on_commit(lambda: registry.invalidate(workspace_id, language))


def _set_status(*, article: Article, actor: Actor, status: str) -> Article:
    if article.status == status:
        return article
    before = article.status
    article.status = status
    if status == Article.Status.PUBLISHED and article.published_at is None:
        article.published_at = timezone.now()
    article.save(update_fields=["status", "published_at", "updated_at"])
    audit_record(
        workspace=article.workspace,
        actor=actor,
        action=f"helpcenter.article.{status}",
        object_type="article",
        object_id=article.pk,
        changes={"status": [before, status]},
    )
    _invalidate_on_commit(article.workspace_id)
    return article


def article_publish(*, article: Article, actor: Actor) -> Article:
    """Make the article public in every language it has; it needs at least one translation."""
    if not article.translations.exists():
        raise ValidationFailed(_("Write the article in at least one language before publishing."))
    return _set_status(article=article, actor=actor, status=Article.Status.PUBLISHED)


def article_unpublish(*, article: Article, actor: Actor) -> Article:
    return _set_status(article=article, actor=actor, status=Article.Status.DRAFT)


def article_record_view(*, article: Article) -> None:
    Article.objects.filter(pk=article.pk).update(view_count=F("view_count") + 1)


def feedback_submit(
    *, article: Article, language: str, helpful: bool, reason: str = ""
) -> Feedback:
    """A reader's "was this helpful?" answer; only published articles take feedback."""
    _check_language(language)
    if not article.is_published:
        raise NotFound(_("No such article."))
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ValidationFailed(
            _("The reason is too long."),
            field_errors={"reason": [_("At most %(n)s characters.") % {"n": MAX_REASON}]},
        )
    return Feedback.objects.create(
        workspace_id=article.workspace_id,
        article=article,
        language=language,
        helpful=helpful,
        reason=reason,
    )


def search_log(
    *, workspace: Workspace, language: str, query: str, result_count: int, top_score: float
) -> SearchQuery:
    query = query.strip()[:MAX_QUERY]
    return SearchQuery.objects.create(
        workspace=workspace,
        language=language,
        query=query,
        normalized_query=normalize_query(query),
        result_count=result_count,
        top_score=top_score,
    )


def search_click(*, workspace: Workspace, search_id: int, article: Article) -> bool:
    """Record that a search led to `article`; False when the search is unknown or foreign."""
    if article.workspace_id != workspace.pk:
        return False
    updated: Any = SearchQuery.objects.filter(
        workspace=workspace, pk=search_id, clicked_article__isnull=True
    ).update(clicked_article=article)
    return bool(updated)
