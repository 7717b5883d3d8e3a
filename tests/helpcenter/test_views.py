# Hebrew letters in this module are intended, not look-alikes of Latin ones.
"""The public help center pages and the staff pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from ascolto.helpcenter import services
from ascolto.helpcenter.models import Article, Feedback, Revision, SearchQuery
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.api.conftest import session_client

pytestmark = pytest.mark.django_db


def _category(workspace: Any) -> Any:
    return services.category_create(
        workspace=workspace, slug="account", names={"en": "Account", "he": "חשבון"}
    )


def test_home_lists_categories_and_popular_articles(
    workspace: Any, actor: Any, make_article: Any
) -> None:
    category = _category(workspace)
    article = make_article(
        workspace, actor, {"en": ("Reset your password", "Use the link.")}, category=category
    )
    make_article(workspace, actor, {"en": ("Secret draft", "x")}, publish=False)
    Article.objects.filter(pk=article.pk).update(view_count=5)
    page = Client().get(f"/help/{workspace.slug}/en/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Account" in html
    assert "Reset your password" in html
    assert "Secret draft" not in html
    assert 'name="q"' in html  # the search box works without JavaScript: a GET form
    assert 'dir="ltr"' in html


def test_hebrew_pages_are_right_to_left_and_link_other_translations(
    workspace: Any, actor: Any, make_article: Any
) -> None:
    make_article(
        workspace,
        actor,
        {"he": ("איפוס סיסמה", "לחצו על **שכחתי סיסמה**."), "en": ("Reset password", "Click.")},
    )
    page = Client().get(f"/help/{workspace.slug}/he/a/איפוס-סיסמה/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<html lang="he" dir="rtl">' in html
    assert "<strong>שכחתי סיסמה</strong>" in html
    assert f'href="/help/{workspace.slug}/en/a/reset-password/"' in html
    assert 'name="viewport"' in html


def test_drafts_and_foreign_articles_are_not_public(
    workspace: Any, other_workspace: Any, actor: Any, make_article: Any
) -> None:
    make_article(workspace, actor, {"en": ("Draft", "x")}, publish=False, slug="d")
    make_article(other_workspace, actor, {"en": ("Theirs", "x")}, slug="t")
    client = Client()
    assert client.get(f"/help/{workspace.slug}/en/a/draft/").status_code == 404
    assert client.get(f"/help/{workspace.slug}/en/a/theirs/").status_code == 404
    assert client.get(f"/help/{other_workspace.slug}/en/a/theirs/").status_code == 200
    assert client.get(f"/help/{workspace.slug}/fr/").status_code == 404
    assert client.get("/help/no-such-workspace/").status_code == 404


def test_feedback_form_stores_the_answer_and_thanks(
    workspace: Any, actor: Any, make_article: Any
) -> None:
    article = make_article(workspace, actor, {"it": ("Pagare la bolletta", "Con la carta.")})
    client = Client(enforce_csrf_checks=True)
    url = f"/help/{workspace.slug}/it/a/pagare-la-bolletta/feedback/"
    response = client.post(url, {"helpful": "no", "reason": "Manca il bonifico"})
    assert response.status_code == 302
    stored = Feedback.objects.get()
    assert (stored.article_id, stored.helpful, stored.reason, stored.language) == (
        article.pk,
        False,
        "Manca il bonifico",
        "it",
    )
    page = client.get(response["Location"])
    assert "Grazie" in page.content.decode() or "Thank you" in page.content.decode()
    assert client.post(url, {"helpful": "maybe"}).status_code == 400
    assert client.post(url, {"helpful": "yes", "reason": "x" * 2001}).status_code == 400
    assert Feedback.objects.count() == 1


def test_search_page_logs_the_search_and_the_click(
    workspace: Any, actor: Any, make_article: Any
) -> None:
    article = make_article(workspace, actor, {"he": ("מעקב אחר משלוח", "מספר מעקב במייל.")})
    client = Client()
    page = client.get(f"/help/{workspace.slug}/he/search/", {"q": "משלוחים"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "מעקב אחר משלוח" in html
    logged = SearchQuery.objects.get()
    assert (logged.result_count, logged.language) == (1, "he")
    link = re.search(r'href="([^"]*\?sq=\d+)"', html)
    assert link is not None
    client.get(link.group(1).replace("&amp;", "&"))
    logged.refresh_from_db()
    assert logged.clicked_article_id == article.pk
    article.refresh_from_db()
    assert article.view_count == 1


def test_search_without_results_is_a_content_gap_and_long_queries_are_refused(
    workspace: Any,
) -> None:
    client = Client()
    page = client.get(f"/help/{workspace.slug}/en/search/", {"q": "warranty"})
    assert page.status_code == 200
    assert SearchQuery.objects.get().result_count == 0
    assert client.get(f"/help/{workspace.slug}/en/search/", {"q": "x" * 201}).status_code == 400


# --- Staff pages --------------------------------------------------------------------------


def test_staff_pages_need_a_signed_in_member(workspace: Any) -> None:
    response = Client().get("/help-admin/")
    assert response.status_code == 302
    assert "/login" in response["Location"]
    outsider = UserFactory()
    assert session_client(outsider).get("/help-admin/").status_code == 403


def test_staff_write_an_article_preview_publish_and_read_the_history(
    workspace: Any, agent: Any
) -> None:
    client = session_client(agent)
    response = client.post("/help-admin/new/", {"slug": "returns", "language": "it"})
    article = Article.objects.get(workspace=workspace, slug="returns")
    assert response["Location"] == f"/help-admin/{article.pk}/it/edit/"

    edit = f"/help-admin/{article.pk}/it/edit/"
    preview = client.post(
        edit, {"title": "Resi", "body_markdown": "**Entro** 30 giorni", "preview": "1"}
    )
    assert "<strong>Entro</strong>" in preview.content.decode()
    assert not article.translations.exists()

    client.post(edit, {"title": "Resi", "body_markdown": "Entro 30 giorni", "save": "1"})
    client.post(edit, {"title": "Resi e rimborsi", "body_markdown": "Entro 30", "save": "1"})
    assert Revision.objects.filter(translation__article=article).count() == 2
    history = client.get(f"/help-admin/{article.pk}/it/history/").content.decode()
    assert history.index("Resi e rimborsi") < history.index("Entro 30 giorni")

    assert Client().get(f"/help/{workspace.slug}/it/a/resi-e-rimborsi/").status_code == 404
    client.post(f"/help-admin/{article.pk}/publish/")
    assert Client().get(f"/help/{workspace.slug}/it/a/resi-e-rimborsi/").status_code == 200
    client.post(f"/help-admin/{article.pk}/unpublish/")
    assert Client().get(f"/help/{workspace.slug}/it/a/resi-e-rimborsi/").status_code == 404


def test_staff_see_bad_input_and_other_workspaces_stay_hidden(
    workspace: Any, other_workspace: Any, agent: Any, make_article: Any, actor: Any
) -> None:
    client = session_client(agent)
    page = client.post("/help-admin/new/", {"slug": "not a slug", "language": "en"})
    assert page.status_code == 400
    theirs = make_article(other_workspace, actor, {"en": ("Theirs", "x")})
    assert client.get(f"/help-admin/{theirs.pk}/en/edit/").status_code == 404
    assert client.post(f"/help-admin/{theirs.pk}/unpublish/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_published


def test_read_only_roles_cannot_change_articles(
    workspace: Any, actor: Any, make_article: Any
) -> None:
    article = make_article(workspace, actor, {"en": ("Live", "x")})
    analyst = UserFactory()
    MembershipFactory(workspace=workspace, user=analyst, role="analyst")
    client = session_client(analyst)
    assert client.get("/help-admin/").status_code == 200
    assert client.post(f"/help-admin/{article.pk}/unpublish/").status_code == 403
    article.refresh_from_db()
    assert article.is_published


def test_content_gaps_page_lists_poor_searches(workspace: Any, agent: Any) -> None:
    for _ in range(3):
        Client().get(f"/help/{workspace.slug}/en/search/", {"q": "Warranty claims"})
    html = session_client(agent).get("/help-admin/gaps/").content.decode()
    row = re.search(r'<tr data-testid="gap">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "Warranty claims" in row.group(1)
    assert "<td>3</td>" in row.group(1)


def test_category_page_lists_its_published_articles_in_the_language(
    workspace: Any, actor: Any, make_article: Any
) -> None:
    category = _category(workspace)
    make_article(workspace, actor, {"he": ("שינוי סיסמה", "x")}, category=category)
    make_article(workspace, actor, {"he": ("מחיקת חשבון", "x")}, category=category, publish=False)
    make_article(workspace, actor, {"he": ("משלוחים", "x")})
    page = Client().get(f"/help/{workspace.slug}/he/c/account/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<h1>חשבון</h1>" in html
    assert "שינוי סיסמה" in html
    assert "מחיקת חשבון" not in html
    assert "משלוחים" not in html
    assert Client().get(f"/help/{workspace.slug}/he/c/nope/").status_code == 404


def test_home_follows_the_readers_language(workspace: Any, actor: Any, make_article: Any) -> None:
    make_article(workspace, actor, {"it": ("Pagare la bolletta", "x"), "en": ("Pay a bill", "x")})
    page = Client(headers={"accept-language": "it"}).get(f"/help/{workspace.slug}/")
    html = page.content.decode()
    assert '<html lang="it" dir="ltr">' in html
    assert "Pagare la bolletta" in html
    assert "Pay a bill" not in html
