"""Website intercept answers count in the survey's figures (report, metrics API) under the
channel "website", are listed with the responses and exported in the CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ascolto.surveys import listing, selectors, services
from ascolto.surveys.models import InterceptAnswer, Response, Survey
from ascolto.surveys.services import intercept
from tests.inbox.factories import InboxFactory
from tests.surveys.factories import SYSTEM, consenting_customer, make_survey, sent_invitation
from tests.ui.conftest import login

pytestmark = pytest.mark.django_db
SHOP = "https://shop.example.com"


@pytest.fixture
def survey(workspace: Any) -> Survey:
    InboxFactory(
        workspace=workspace,
        channel="webchat",
        config={"widget": {"key": "k" * 24, "allowed_origins": [SHOP]}},
    )
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    survey = make_survey(workspace, "nps")
    # Two answers by email: a promoter and a detractor.
    for index, score in enumerate([10, 2]):
        invitation, _ = sent_invitation(
            survey, consenting_customer(workspace), source_key=f"email-{index}"
        )
        services.response_record(invitation=invitation, answers={"score": score}, keys=["score"])
    return survey


def answer_on_the_website(client: Client, survey: Survey, visitor: str, score: int) -> None:
    response = client.post(
        reverse("surveys:intercept", args=[intercept.intercept_key(survey)]),
        json.dumps({"visitor": visitor, "score": score, "lang": "it", "page": "/checkout"}),
        content_type="text/plain",
        HTTP_ORIGIN=SHOP,
    )
    assert response.status_code == 201


def test_website_answers_are_in_the_metrics_under_the_website_channel(api, client, survey):
    answer_on_the_website(client, survey, "visitor-0001", 9)
    answer_on_the_website(client, survey, "visitor-0002", 10)
    answer_on_the_website(client, survey, "visitor-0003", 7)

    body = api.get("surveys/metrics", by="channel", survey_id=survey.pk).json()

    # 5 answers: 3 promoters (10, 9, 10), 1 passive, 1 detractor -> NPS = 100 * 2 / 5 = 40.
    assert body["totals"]["nps"]["n"] == 5
    assert body["totals"]["nps"]["score"] == pytest.approx(40.0)
    groups = {g["key"]: g for g in body["groups"]}
    assert groups["website"]["label"] == "Website"
    assert groups["website"]["nps"]["n"] == 3
    assert groups["website"]["nps"]["promoters"] == 2
    # Nobody was invited on the website: the response rate is unchanged.
    assert groups["website"]["response_rate"]["sent"] == 0
    assert body["totals"]["response_rate"]["sent"] == 2
    language = api.get("surveys/metrics", by="language", survey_id=survey.pk).json()
    assert {g["key"]: g["nps"]["n"] for g in language["groups"]}["it"] == 3


def test_one_customers_figures_and_unfinished_responses_leave_website_answers_out(
    client, survey, workspace
):
    answer_on_the_website(client, survey, "visitor-0001", 9)
    customer_id = Response.objects.filter(survey=survey).values_list("customer_id", flat=True)[0]

    mine = selectors.metric_counts(
        workspace=workspace,
        filters=selectors.ResponseFilter(survey_id=survey.pk, customer_id=customer_id),
    )
    unfinished = selectors.metric_counts(
        workspace=workspace, filters=selectors.ResponseFilter(survey_id=survey.pk, completed=False)
    )
    everything = selectors.metric_counts(
        workspace=workspace, filters=selectors.ResponseFilter(survey_id=survey.pk)
    )

    assert mine.totals.responses == 1
    assert unfinished.totals.responses == Response.objects.filter(completed=False).count()
    assert everything.totals.responses == 3


def test_the_report_and_the_response_list_show_website_answers(client, agent, survey):
    answer_on_the_website(client, survey, "visitor-0001", 9)
    answer_on_the_website(client, survey, "visitor-0002", 4)
    staff = login(Client(), agent)

    report = staff.get(
        reverse("surveys_staff:report", args=[survey.pk]), {"by": "channel"}
    ).content.decode()
    listed = staff.get(reverse("surveys_staff:responses", args=[survey.pk])).content.decode()

    assert "Website" in report
    for answer in InterceptAnswer.objects.all():
        assert f'data-website-answer="{answer.pk}"' in listed
    for response in Response.objects.all():
        assert f'data-response="{response.pk}"' in listed
    assert "/checkout" in listed
    assert "Website visitor" in listed


def test_the_list_pages_through_responses_and_website_answers_once_each(client, survey, workspace):
    for index in range(5):
        answer_on_the_website(client, survey, f"visitor-{index:04}", index)
    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        page = listing.response_rows(
            workspace=workspace, survey_id=survey.pk, cursor=cursor, limit=2
        )
        seen += [(r.source, r.pk) for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == 7
    assert sum(1 for source, _ in seen if source == "website") == 5


def test_the_csv_export_has_a_row_per_website_answer(api, client, survey):
    answer_on_the_website(client, survey, "visitor-0001", 8)

    response = api.get(f"surveys/{survey.pk}/responses.csv")

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["source"] for r in rows] == ["response", "response", "website"]
    website = rows[-1]
    assert (website["channel"], website["nps_score"], website["q:score"]) == ("website", "8", "8")
    assert (website["response_id"], website["customer_id"], website["page"]) == (
        "",
        "",
        "/checkout",
    )
    assert website["language"] == "it"
