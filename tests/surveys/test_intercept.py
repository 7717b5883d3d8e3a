"""The website intercept endpoint: CORS for the workspace's allowed origins, rate limit, one answer
per visitor and window, server-side suppression, and clear errors for bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ascolto.surveys.models import InterceptAnswer, Survey
from ascolto.surveys.services import intercept
from tests.inbox.factories import InboxFactory
from tests.surveys.factories import make_survey

pytestmark = pytest.mark.django_db
SHOP = "https://shop.example.com"


@pytest.fixture
def survey(workspace: Any) -> Survey:
    InboxFactory(
        workspace=workspace,
        channel="webchat",
        config={"widget": {"key": "k" * 24, "allowed_origins": [SHOP]}},
    )
    return make_survey(workspace, "nps", sampling_rate=0.25)


def url(survey: Survey) -> str:
    return reverse("surveys:intercept", args=[intercept.intercept_key(survey)])


def post(client: Client, survey: Survey, body: Any, origin: str = SHOP) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url(survey), data, content_type="text/plain", HTTP_ORIGIN=origin)


def test_the_settings_are_localised_and_allowed_for_the_shop(client, survey):
    response = client.get(url(survey), {"lang": "he", "visitor": "v-12345678"}, HTTP_ORIGIN=SHOP)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    config = response.json()
    assert config["ask"] is True
    assert config["share"] == 0.25
    assert config["dir"] == "rtl"
    assert config["points"] == list(range(11))
    assert config["question"] == "עד כמה סביר שתמליצו עלינו לחבר או לעמית?"


def test_another_origin_is_refused_without_cors_headers(client, survey):
    response = post(client, survey, {"visitor": "v-12345678", "score": 9}, "https://evil.test")

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    assert not InterceptAnswer.objects.exists()


def test_one_answer_per_visitor_per_window_and_then_suppressed(client, survey):
    first = post(client, survey, {"visitor": "v-12345678", "score": 9, "lang": "it", "page": "/x"})
    again = post(client, survey, {"visitor": "v-12345678", "score": 3})
    config = client.get(url(survey), {"visitor": "v-12345678"}, HTTP_ORIGIN=SHOP).json()
    other = client.get(url(survey), {"visitor": "v-87654321"}, HTTP_ORIGIN=SHOP).json()

    assert first.status_code == 201
    assert first["Access-Control-Allow-Origin"] == SHOP
    assert again.status_code == 409
    answer = InterceptAnswer.objects.get()
    assert (answer.score, answer.language, answer.page) == (9, "it", "/x")
    assert answer.workspace_id == survey.workspace_id
    assert config["ask"] is False
    assert other["ask"] is True


def test_a_preflight_is_answered_for_an_allowed_origin(client, survey):
    response = client.options(url(survey), HTTP_ORIGIN=SHOP)

    assert response.status_code == 200
    assert "POST" in response["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"visitor": "v-12345678", "score": 11}, "score"),
        ({"visitor": "v-12345678", "score": "ten"}, "score"),
        ({"visitor": "v-12345678"}, "score"),
        ({"visitor": "short", "score": 5}, "visitor"),
        ([1, 2], ""),
    ],
)
def test_bad_answers_are_refused_clearly_and_nothing_is_stored(client, survey, body, field):
    response = post(client, survey, body)

    assert response.status_code == 400
    assert field in response.json()["field_errors"]
    assert not InterceptAnswer.objects.exists()


def test_malformed_json_a_bad_key_and_an_inactive_survey(client, survey):
    assert post(client, survey, "{not json").status_code == 400
    bad = reverse("surveys:intercept", args=["nope"])
    assert client.get(bad, HTTP_ORIGIN=SHOP).status_code == 404
    Survey.objects.filter(pk=survey.pk).update(is_active=False)
    assert client.get(url(survey), HTTP_ORIGIN=SHOP).status_code == 404


def test_requests_are_rate_limited(client, survey, settings):
    settings.ASCOLTO_SURVEYS_PAGE_HITS = 3
    codes = [
        client.get(url(survey), {"visitor": f"v-{i:08d}"}, HTTP_ORIGIN=SHOP).status_code
        for i in range(5)
    ]

    assert codes == [200, 200, 200, 429, 429]


def test_another_workspaces_origins_do_not_open_this_survey(client, survey, other_workspace):
    InboxFactory(
        workspace=other_workspace,
        channel="webchat",
        config={"widget": {"key": "z" * 24, "allowed_origins": ["https://other.test"]}},
    )

    response = post(client, survey, {"visitor": "v-12345678", "score": 9}, "https://other.test")

    assert response.status_code == 403


def test_the_snippet_is_small_and_shown_in_the_builder(client, admin_user, survey):
    from django.contrib.staticfiles import finders

    from tests.ui.conftest import login

    path = finders.find("ascolto/intercept.js")
    with open(path, "rb") as handle:
        assert len(handle.read()) <= 5 * 1024
    html = login(client, admin_user).get(reverse("surveys_staff:edit", args=[survey.pk]))
    assert intercept.intercept_key(survey) in html.content.decode()
