"""Staff survey pages: list, report figures and breakdowns, responses, the follow-up queue."""

from __future__ import annotations

import sys
import types

import pytest
from django.test import Client
from django.urls import reverse

from ascolto.surveys import services
from ascolto.surveys.models import FollowUp
from tests.surveys.factories import (
    SYSTEM,
    consenting_customer,
    dispatch_pending,
    make_survey,
    sent_invitation,
)
from tests.ui.conftest import login


@pytest.fixture
def staff(client: Client, agent) -> Client:  # type: ignore[no-untyped-def]
    return login(client, agent)


def _answer(workspace, survey, score, *, key, locale="en", comment=""):  # type: ignore[no-untyped-def]
    customer = consenting_customer(workspace, locale=locale)
    invitation, _ = sent_invitation(survey, customer, source_key=key)
    answers = {"score": score}
    keys = ["score"]
    if comment:
        answers["why"] = comment
        keys.append("why")
    services.response_record(invitation=invitation, answers=answers, keys=keys)
    return invitation


@pytest.fixture
def nps_survey(workspace):  # type: ignore[no-untyped-def]
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    survey = make_survey(workspace, "nps", name="Support NPS")
    # 2 promoters, 1 passive, 1 detractor: NPS = 100 * (2 - 1) / 4 = 25.
    for index, score in enumerate([10, 9, 8, 3]):
        _answer(workspace, survey, score, key=f"k{index}", locale="it" if index % 2 else "en")
    return survey


def test_the_list_links_each_survey_of_the_workspace_only(staff, workspace, other_workspace):
    mine = make_survey(workspace, "nps", name="Support NPS")
    make_survey(other_workspace, "csat", name="Someone else's CSAT")

    html = staff.get(reverse("surveys_staff:list")).content.decode()

    assert reverse("surveys_staff:report", args=[mine.pk]) in html
    assert "Support NPS" in html
    assert "Someone else" not in html


def test_the_report_shows_nps_with_its_interval_and_the_response_rate(staff, nps_survey):
    response = staff.get(reverse("surveys_staff:report", args=[nps_survey.pk]))
    html = response.content.decode()

    assert response.status_code == 200
    assert 'data-figure="nps">25.0' in html
    # Var = (0.5 + 0.25 - 0.25^2) / 4 = 0.171875; margin = 1.96 * 100 * sqrt(Var) = 81.3.
    assert "95% CI -56.3 to 100.0" in html
    assert "(4 / 4)" in html
    assert 'data-figure="responses">4<' in html


def test_the_report_breaks_down_by_language(staff, nps_survey):
    html = staff.get(
        reverse("surveys_staff:report", args=[nps_survey.pk]), {"by": "language"}
    ).content.decode()

    assert 'data-group="en"' in html
    assert 'data-group="it"' in html


def test_an_unknown_breakdown_is_a_clear_400(staff, nps_survey):
    response = staff.get(reverse("surveys_staff:report", args=[nps_survey.pk]), {"by": "moon"})

    assert response.status_code == 400
    assert "Unknown breakdown." in response.content.decode()


def test_another_workspaces_survey_is_not_found(staff, other_workspace):
    theirs = make_survey(other_workspace, "nps")

    assert staff.get(reverse("surveys_staff:report", args=[theirs.pk])).status_code == 404
    assert staff.get(reverse("surveys_staff:responses", args=[theirs.pk])).status_code == 404


def test_responses_filter_by_completion(staff, workspace, nps_survey):
    partial = _answer(workspace, nps_survey, 7, key="partial")
    done = _answer(workspace, nps_survey, 2, key="done", comment="Too slow")
    url = reverse("surveys_staff:responses", args=[nps_survey.pk])

    completed = staff.get(url, {"completed": "yes"}).content.decode()
    unfinished = staff.get(url, {"completed": "no"}).content.decode()

    assert f'data-response="{done.response.pk}"' in completed
    assert "Too slow" in completed
    assert f'data-response="{partial.response.pk}"' not in completed
    assert f'data-response="{partial.response.pk}"' in unfinished
    assert staff.get(url, {"completed": "maybe"}).status_code == 400


def test_the_owner_contacts_the_customer_and_closes_the_loop(staff, workspace, nps_survey):
    invitation = _answer(workspace, nps_survey, 1, key="poor", comment="Rude")
    followup = services.response_follow_up(response=invitation.response)
    assert followup is not None
    queue = reverse("surveys_staff:followups")
    update = reverse("surveys_staff:followup_update", args=[followup.pk])

    assert f'data-followup="{followup.pk}"' in staff.get(queue).content.decode()
    assert staff.post(update, {"step": "contact"}).status_code == 302
    refused = staff.post(update, {"step": "close", "root_cause": "", "action_taken": ""})
    closed = staff.post(
        update,
        {
            "step": "close",
            "root_cause": "agent",
            "action_taken": "Coached the agent.",
            "message": "",
        },
    )

    followup.refresh_from_db()
    assert refused.status_code == 400
    assert "Say what was done." in refused.content.decode()
    assert closed.status_code == 302
    assert followup.status == FollowUp.Status.CLOSED
    assert followup.first_contact_at is not None
    assert followup.action_taken == "Coached the agent."
    open_only = staff.get(queue, {"status": "open"}).content.decode()
    assert f'data-followup="{followup.pk}"' not in open_only
    assert staff.get(queue, {"status": "nonsense"}).status_code == 400


def test_another_workspaces_follow_up_cannot_be_changed(staff, other_workspace):
    services.settings_update(workspace=other_workspace, actor=SYSTEM, suppression_days=0)
    survey = make_survey(other_workspace, "nps")
    invitation = _answer(other_workspace, survey, 0, key="x")
    followup = services.response_follow_up(response=invitation.response)
    assert followup is not None

    response = staff.post(
        reverse("surveys_staff:followup_update", args=[followup.pk]), {"step": "contact"}
    )

    followup.refresh_from_db()
    assert response.status_code == 404
    assert followup.first_contact_at is None


def test_the_staff_pages_run_right_to_left_in_hebrew(staff, nps_survey):
    staff.post(reverse("set_language"), {"language": "he", "next": "/"})

    for url in (
        reverse("surveys_staff:list"),
        reverse("surveys_staff:report", args=[nps_survey.pk]),
        reverse("surveys_staff:responses", args=[nps_survey.pk]),
        reverse("surveys_staff:followups"),
    ):
        html = staff.get(url).content.decode()
        assert '<html lang="he" dir="rtl">' in html, url


def test_the_report_reads_in_hebrew_with_its_interval(staff, nps_survey):
    staff.post(reverse("set_language"), {"language": "he", "next": "/"})

    html = staff.get(reverse("surveys_staff:report", args=[nps_survey.pk])).content.decode()

    assert "שיעור מענה" in html
    assert "רווח סמך 95% בין -56.3 ל-100.0" in html


def test_the_report_shows_comment_themes_and_pain_points(staff, workspace):
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    survey = make_survey(workspace, "nps")
    comments = [
        ("The delivery was late and the parcel arrived damaged", 2),
        ("Late delivery, the courier lost my parcel", 1),
        ("Friendly agent, quick and helpful answer", 10),
        ("Helpful agent, friendly and quick", 9),
    ]
    for index, (text, score) in enumerate(comments):
        _answer(workspace, survey, score, key=f"c{index}", comment=text)

    html = staff.get(reverse("surveys_staff:report", args=[survey.pk])).content.decode()

    assert html.count('data-theme="en"') == 2
    pains = [line for line in html.splitlines() if 'data-pain="en"' in line]
    assert len(pains) == 1
    assert "delivery" in pains[0] or "late" in pains[0]
    assert "friendly" not in pains[0]


def test_responses_show_the_comments_sentiment(staff, workspace, nps_survey, settings, monkeypatch):
    # The trained models are not part of the test environment; a stand-in reads the comment.
    module = types.ModuleType("fake_sentiment")
    module.classify = lambda text, language: "negative" if "slow" in text else "positive"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_sentiment", module)
    settings.ASCOLTO_SURVEYS_SENTIMENT = "fake_sentiment.classify"
    slow = _answer(workspace, nps_survey, 2, key="slow", comment="Too slow")
    kind = _answer(workspace, nps_survey, 10, key="kind", comment="Kind people")
    dispatch_pending()

    html = staff.get(reverse("surveys_staff:responses", args=[nps_survey.pk])).content.decode()

    rows = {line.strip() for line in html.splitlines() if "data-sentiment" in line}
    assert any('data-sentiment="negative">Negative' in row for row in rows)
    assert any('data-sentiment="positive">Positive' in row for row in rows)
    assert {slow.response.pk, kind.response.pk} <= {
        r.pk for r in type(slow.response).objects.filter(sentiment__in=["negative", "positive"])
    }
