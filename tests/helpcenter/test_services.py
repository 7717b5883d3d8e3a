"""Writes: articles, translations and their revisions, publishing, feedback, the search log."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ascolto.core.errors import Conflict, NotFound, ValidationFailed
from ascolto.helpcenter import selectors, services
from ascolto.helpcenter.models import Article, Feedback, Revision, SearchQuery
from tests.helpcenter.conftest import needs_encoder

pytestmark = pytest.mark.django_db


def test_translation_edits_keep_every_revision(workspace: Any, actor: Any) -> None:
    article = services.article_create(workspace=workspace, actor=actor, slug="reset")
    first = services.translation_save(
        article=article, actor=actor, language="en", title="Reset", body_markdown="Old **text**"
    )
    second = services.translation_save(
        article=article, actor=actor, language="en", title="Reset it", body_markdown="New text"
    )
    assert first.pk == second.pk
    second.refresh_from_db()
    assert second.body_html == "<p>New text</p>\n"
    assert second.body_text == "New text"
    history = selectors.revisions(article=article, language="en")
    assert [r.title for r in history] == ["Reset it", "Reset"]
    assert history[1].body_markdown == "Old **text**"
    assert history[0].author == actor.user


def test_revisions_are_append_only(workspace: Any, actor: Any) -> None:
    article = services.article_create(workspace=workspace, actor=actor, slug="a")
    services.translation_save(
        article=article, actor=actor, language="en", title="T", body_markdown="b"
    )
    revision = Revision.objects.get()
    revision.title = "changed"
    with pytest.raises(PermissionError):
        revision.save()


def test_translation_slugs_come_from_titles_and_stay_unique(workspace: Any, actor: Any) -> None:
    one = services.article_create(workspace=workspace, actor=actor, slug="one")
    two = services.article_create(workspace=workspace, actor=actor, slug="two")
    a = services.translation_save(
        article=one, actor=actor, language="he", title="איפוס סיסמה", body_markdown=""
    )
    b = services.translation_save(
        article=two, actor=actor, language="he", title="איפוס סיסמה", body_markdown=""
    )
    assert a.slug == "איפוס-סיסמה"
    assert b.slug == "איפוס-סיסמה-2"


@pytest.mark.parametrize(
    ("language", "title", "body", "field"),
    [
        ("fr", "Titre", "", "language"),
        ("en", "  ", "", "title"),
        ("en", "x" * 251, "", "title"),
        ("en", "ok", "x" * 100_001, "body_markdown"),
    ],
)
def test_bad_translations_are_refused_with_the_field(
    workspace: Any, actor: Any, language: str, title: str, body: str, field: str
) -> None:
    article = services.article_create(workspace=workspace, actor=actor, slug="a")
    with pytest.raises(ValidationFailed) as caught:
        services.translation_save(
            article=article, actor=actor, language=language, title=title, body_markdown=body
        )
    assert field in caught.value.field_errors


def test_article_slugs_are_checked(workspace: Any, actor: Any) -> None:
    with pytest.raises(ValidationFailed):
        services.article_create(workspace=workspace, actor=actor, slug="no spaces/here")
    services.article_create(workspace=workspace, actor=actor, slug="taken")
    with pytest.raises(Conflict):
        services.article_create(workspace=workspace, actor=actor, slug="taken")


def test_publishing_needs_a_translation(workspace: Any, actor: Any) -> None:
    article = services.article_create(workspace=workspace, actor=actor, slug="empty")
    with pytest.raises(ValidationFailed):
        services.article_publish(article=article, actor=actor)
    services.translation_save(
        article=article, actor=actor, language="it", title="Ciao", body_markdown=""
    )
    services.article_publish(article=article, actor=actor)
    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED
    assert article.published_at is not None


def test_feedback_is_stored_only_for_published_articles(
    workspace: Any, actor: Any, make_article: Any
) -> None:
    draft = make_article(workspace, actor, {"en": ("Draft", "x")}, publish=False)
    with pytest.raises(NotFound):
        services.feedback_submit(article=draft, language="en", helpful=True)
    live = make_article(workspace, actor, {"en": ("Live", "x")})
    services.feedback_submit(article=live, language="en", helpful=False, reason=" too short ")
    stored = Feedback.objects.get()
    assert (stored.helpful, stored.reason, stored.workspace_id) == (
        False,
        "too short",
        workspace.pk,
    )
    with pytest.raises(ValidationFailed):
        services.feedback_submit(article=live, language="en", helpful=False, reason="x" * 2001)


def test_a_search_click_is_recorded_once_and_only_in_its_workspace(
    workspace: Any, other_workspace: Any, actor: Any, make_article: Any
) -> None:
    article = make_article(workspace, actor, {"en": ("Refunds", "x")})
    logged = services.search_log(
        workspace=workspace, language="en", query="Refund?", result_count=1, top_score=0.7
    )
    assert logged.normalized_query == "refund"
    assert not services.search_click(
        workspace=other_workspace, search_id=logged.pk, article=article
    )
    assert services.search_click(workspace=workspace, search_id=logged.pk, article=article)
    assert not services.search_click(workspace=workspace, search_id=logged.pk, article=article)
    assert SearchQuery.objects.get().clicked_article == article


@needs_encoder
def test_embeddings_are_stored_for_languages_the_encoder_knows(
    workspace: Any, actor: Any, make_article: Any
) -> None:
    article = make_article(workspace, actor, {"it": ("Bolletta", "Come pagare"), "he": ("א", "ב")})
    italian = article.translations.get(language="it")
    hebrew = article.translations.get(language="he")
    vector = np.frombuffer(bytes(italian.embedding), dtype=np.float32)
    assert vector.shape == (512,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    assert italian.embedding_model == "use-multilingual-v3"
    assert hebrew.embedding is None
