"""The help center REST operations (mounted by tests/helpcenter/urls.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ascolto.helpcenter.models import Feedback
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


def test_list_and_get_articles_with_translations(
    api: Any, workspace: Any, actor: Any, make_article: Any
) -> None:
    live = make_article(workspace, actor, {"en": ("Refunds", "Within *30* days")})
    make_article(workspace, actor, {"it": ("Bozza", "x")}, publish=False)
    listed = json.loads(api.get("helpcenter/articles", status="published").content)
    assert [a["id"] for a in listed] == [live.pk]
    detail = json.loads(api.get(f"helpcenter/articles/{live.pk}").content)
    assert detail["translations"][0]["body_html"] == "<p>Within <em>30</em> days</p>\n"
    assert len(json.loads(api.get("helpcenter/articles").content)) == 2


def test_search_ranks_published_articles(
    api: Any, workspace: Any, actor: Any, make_article: Any
) -> None:
    refunds = make_article(workspace, actor, {"he": ("החזר כספי", "החזרת מוצר")})
    response = api.get("helpcenter/articles/search", language="he", q="החזרים")
    results = json.loads(response.content)
    assert response.status_code == 200
    assert results[0]["article_id"] == refunds.pk
    assert results[0]["score"] > 0
    assert_problem(api.get("helpcenter/articles/search", language="fr", q="x"), 422)


def test_feedback_through_the_api(api: Any, workspace: Any, actor: Any, make_article: Any) -> None:
    article = make_article(workspace, actor, {"en": ("Refunds", "x")})
    created = api.post(
        f"helpcenter/articles/{article.pk}/feedback",
        {"language": "en", "helpful": True, "reason": "clear"},
    )
    assert created.status_code == 201
    assert Feedback.objects.get().reason == "clear"
    listed = json.loads(api.get(f"helpcenter/articles/{article.pk}/feedback").content)
    assert [(f["helpful"], f["reason"]) for f in listed] == [(True, "clear")]
    assert_problem(api.post(f"helpcenter/articles/{article.pk}/feedback", {"language": "en"}), 422)


def test_other_workspaces_articles_are_not_found(
    other_api: Any, workspace: Any, actor: Any, make_article: Any
) -> None:
    article = make_article(workspace, actor, {"en": ("Refunds", "refund")})
    assert_problem(other_api.get(f"helpcenter/articles/{article.pk}"), 404, "not_found")
    assert_problem(
        other_api.post(
            f"helpcenter/articles/{article.pk}/feedback", {"language": "en", "helpful": False}
        ),
        404,
    )
    assert (
        json.loads(other_api.get("helpcenter/articles/search", language="en", q="refund").content)
        == []
    )
    assert Feedback.objects.count() == 0


def test_analysts_read_but_do_not_write(
    member: Any, workspace: Any, actor: Any, make_article: Any
) -> None:
    article = make_article(workspace, actor, {"en": ("Refunds", "x")})
    analyst = member("analyst")
    assert analyst.get("helpcenter/articles").status_code == 200
    assert_problem(
        analyst.post(
            f"helpcenter/articles/{article.pk}/feedback", {"language": "en", "helpful": True}
        ),
        403,
    )
