"""Theme trends (comments per week) and the cache that spares the report a clustering per view."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from ascolto.surveys import selectors, services, themes
from ascolto.surveys.models import Response
from ascolto.surveys.themes import Comment, extract_themes
from tests.surveys.factories import SYSTEM, consenting_customer, make_survey, sent_invitation

LATE = "Late delivery, the courier lost my parcel"
KIND = "Friendly agent, quick and helpful answer"


def test_each_theme_counts_its_comments_per_week():
    comments = [
        Comment("The delivery was late and the parcel arrived damaged", 2, week=0),
        Comment(LATE, 1, week=2),
        Comment("Parcel delivery took two weeks, very late", 3, week=2),
        Comment(KIND, 10, week=1),
        Comment("Helpful agent, friendly and quick", 9, week=None),  # older than the period
        Comment("Quick answer from a very helpful and friendly agent", 10, week=2),
    ]

    found = extract_themes(comments, language="en", k=2, weeks=3)

    by_first = {t.representative: t for t in found}
    delivery = next(t for t in found if "delivery" in t.representative.lower())
    agents = next(t for t in found if t is not delivery)
    assert delivery.weekly == (1, 0, 2)
    assert agents.weekly == (0, 1, 1)
    assert delivery.sparkline == "▅▁█"  # half the busiest week: the middle of 8 heights
    assert len(by_first) == 2
    assert extract_themes(comments, language="en", k=2)[0].weekly == ()


def _answer(workspace, survey, score, comment, key, when):  # type: ignore[no-untyped-def]
    customer = consenting_customer(workspace)
    invitation, _ = sent_invitation(survey, customer, source_key=key)
    result = services.response_record(
        invitation=invitation, answers={"score": score, "why": comment}, keys=["score", "why"]
    )
    Response.objects.filter(pk=result.response.pk).update(created_at=when)


def test_the_report_themes_carry_trends_and_are_computed_once_until_a_comment_arrives(
    workspace, monkeypatch
):
    cache.clear()
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    survey = make_survey(workspace, "nps")
    now = timezone.now()
    texts = [
        ("The delivery was late and the parcel arrived damaged", 2, 0),
        (LATE, 1, 7),
        ("Parcel delivery took two weeks, very late", 3, 7),
        (KIND, 10, 0),
        ("Helpful agent, friendly and quick", 9, 200),
    ]
    for index, (text, score, days_ago) in enumerate(texts):
        _answer(workspace, survey, score, text, f"t{index}", now - dt.timedelta(days=days_ago))
    calls: list[int] = []
    real = themes.extract_themes

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(themes, "extract_themes", counting)

    first = selectors.comment_themes(workspace=workspace, survey_id=survey.pk, now=now)
    again = selectors.comment_themes(workspace=workspace, survey_id=survey.pk, now=now)

    assert calls == [1]
    assert first == again
    weekly = [t.weekly for t in first["en"]]
    assert all(len(w) == selectors.THEME_TREND_WEEKS for w in weekly)
    # Four comments fall in the last 12 weeks, one 200 days ago does not.
    assert sum(sum(w) for w in weekly) == 4
    assert sum(w[-1] for w in weekly) + sum(w[-2] for w in weekly) == 4

    _answer(workspace, survey, 0, "Courier late again, parcel lost", "t9", now)
    selectors.comment_themes(workspace=workspace, survey_id=survey.pk, now=now)
    assert calls == [1, 1]


def test_the_report_shows_each_themes_trend(client, workspace):  # type: ignore[no-untyped-def]
    from tests.accounts.factories import MembershipFactory, UserFactory
    from tests.ui.conftest import login

    cache.clear()
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    survey = make_survey(workspace, "nps")
    now = timezone.now()
    for index, (text, score) in enumerate(
        [(LATE, 1), ("The delivery was late, parcel damaged", 2), (KIND, 10), (KIND + "!", 9)]
    ):
        _answer(workspace, survey, score, text, f"r{index}", now)
    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user, role="supervisor")

    html = login(client, user).get(reverse("surveys_staff:report", args=[survey.pk])).content
    page = html.decode()

    assert page.count("data-trend=") == 2
    assert "0,0,0,0,0,0,0,0,0,0,0,2" in page


def test_the_report_shows_the_scores_week_by_week(client, workspace):  # type: ignore[no-untyped-def]
    from tests.accounts.factories import MembershipFactory, UserFactory
    from tests.ui.conftest import login

    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    survey = make_survey(workspace, "nps")
    now = timezone.now()
    # This week: a promoter and a detractor (NPS 0); three weeks ago: two promoters (NPS 100).
    for index, (score, days_ago) in enumerate([(10, 0), (3, 0), (9, 21), (10, 21)]):
        _answer(workspace, survey, score, "", f"w{index}", now - dt.timedelta(days=days_ago))

    points = selectors.metric_trend(workspace=workspace, survey_id=survey.pk, now=now)

    assert len(points) == selectors.TREND_WEEKS
    assert points[-1].week <= now.date() < points[-1].week + dt.timedelta(days=7)
    assert points[-1].figures.nps.score == 0.0
    assert points[-4].figures.nps.score == 100.0
    assert points[-2].figures.nps.score is None  # an empty week has no score, not zero
    assert sum(p.figures.responses for p in points) == 4

    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user, role="supervisor")
    page = login(client, user).get(reverse("surveys_staff:report", args=[survey.pk]))
    html = page.content.decode()
    assert html.count("data-week=") == selectors.TREND_WEEKS
    assert 'data-trend-nps="100.0"' in html
