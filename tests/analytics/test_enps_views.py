"""Employee NPS through the screens and the API: the card in the agent console answered with
htmx (and without JavaScript), the admins' page, the team dashboard figure and trend, and
GET/POST /api/v1/analytics/enps."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ascolto.analytics.enps.models import PulseAnswer
from tests.analytics.enps_support import agents, pulse
from tests.api.conftest import ApiClient, assert_problem
from tests.ui.conftest import login

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
QUESTION = "How likely are you to recommend working on this team to a friend?"


def _client(user: Any) -> Client:
    return login(Client(), user)


def test_the_console_loads_the_card_and_an_agent_answers_with_htmx(workspace: Any) -> None:
    (agent,) = agents(workspace, 1)
    p = pulse(workspace, is_open=True, asked=1)
    client = _client(agent)

    console = client.get(reverse("inbox:console")).content.decode()
    assert f'hx-get="{reverse("analytics:enps_prompt")}"' in console
    card = client.get(reverse("analytics:enps_prompt"), headers=HTMX).content.decode()
    assert QUESTION in card
    assert card.count('type="radio" name="score"') == 11

    answered = client.post(
        reverse("analytics:enps_answer", args=[p.pk]),
        {"score": "9", "comment": "Great people"},
        headers=HTMX,
    )

    assert answered.status_code == 200
    assert 'data-testid="enps-thanks"' in answered.content.decode()
    assert list(PulseAnswer.objects.values_list("score", "comment")) == [(9, "Great people")]
    assert client.get(reverse("analytics:enps_prompt")).content == b""


def test_without_javascript_the_answer_goes_back_to_the_inbox(workspace: Any) -> None:
    (agent,) = agents(workspace, 1)
    p = pulse(workspace, is_open=True)

    response = _client(agent).post(reverse("analytics:enps_answer", args=[p.pk]), {"score": "4"})

    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:console")
    assert PulseAnswer.objects.get().score == 4


def test_not_now_hides_the_card_until_the_next_visit(workspace: Any) -> None:
    (agent,) = agents(workspace, 1)
    pulse(workspace, is_open=True)
    client = _client(agent)

    assert client.get(reverse("analytics:enps_dismiss"), headers=HTMX).content == b""
    assert QUESTION in client.get(reverse("analytics:enps_prompt")).content.decode()


def test_bad_answers_and_closed_pulses_are_refused_with_a_reason(workspace: Any) -> None:
    (agent,) = agents(workspace, 1)
    p = pulse(workspace, is_open=True)
    closed = pulse(workspace, months_ago=1)
    client = _client(agent)

    missing = client.post(reverse("analytics:enps_answer", args=[p.pk]), {}, headers=HTMX)
    late = client.post(reverse("analytics:enps_answer", args=[closed.pk]), {"score": "9"})

    assert missing.status_code == 400
    assert "0 to 10" in missing.content.decode()
    assert late.status_code == 400
    assert "closed" in late.content.decode()
    assert not PulseAnswer.objects.exists()


def test_only_agents_see_the_card_and_no_one_answers_another_workspace_s_pulse(
    workspace: Any, other_workspace: Any
) -> None:
    (admin,) = agents(workspace, 1, role="admin")
    (agent,) = agents(workspace, 1)
    pulse(workspace, is_open=True)
    theirs = pulse(other_workspace, is_open=True)

    assert _client(admin).get(reverse("analytics:enps_prompt")).content == b""
    response = _client(agent).post(
        reverse("analytics:enps_answer", args=[theirs.pk]), {"score": "9"}
    )
    assert response.status_code == 404


def test_the_admins_page_lists_pulses_with_thresholds_and_comments(workspace: Any) -> None:
    (admin,) = agents(workspace, 1, role="admin")
    (agent,) = agents(workspace, 1)
    pulse(workspace, months_ago=2, asked=4, scores=(10, 1), comments=("only two of us",))
    pulse(workspace, months_ago=1, asked=4, scores=(10, 9, 9, 3), comments=("Fair workload",))
    pulse(workspace, is_open=True, asked=4, scores=(0,))

    assert _client(agent).get(reverse("analytics:enps")).status_code == 403
    html = _client(admin).get(reverse("analytics:enps")).content.decode()

    scores = re.findall(r'data-testid="enps-score" data-value="([^"]*)"', html)
    assert [float(v) for v in scores] == [50.0]
    assert html.count('data-testid="enps-hidden"') == 2  # the open pulse and the one of 2
    assert "Fair workload" in html
    assert "only two of us" not in html
    assert agent.username not in html


def test_an_admin_sets_the_schedule(workspace: Any) -> None:
    (admin,) = agents(workspace, 1, role="admin")
    client = _client(admin)

    saved = client.post(reverse("analytics:enps"), {"cadence": "quarterly", "open_days": "10"})
    refused = client.post(reverse("analytics:enps"), {"cadence": "weekly", "open_days": "99"})

    assert saved.status_code == 302
    assert refused.status_code == 422
    page = client.get(reverse("analytics:enps")).content.decode()
    assert 'value="quarterly" selected' in page
    assert 'value="10"' in page


def test_the_team_dashboard_shows_the_latest_pulse_against_the_previous_one(
    workspace: Any,
) -> None:
    (admin,) = agents(workspace, 1, role="admin")
    pulse(workspace, months_ago=2, scores=(10, 10, 3))  # 33.3
    pulse(workspace, months_ago=1, scores=(10, 10, 10, 3))  # 50
    pulse(workspace, is_open=True, scores=(0, 0, 0))  # not counted while open

    html = _client(admin).get(reverse("analytics:team")).content.decode()

    value = re.search(
        r'data-metric="enps".*?data-value="([^"]*)".*?data-delta="([^"]*)"', html, re.S
    )
    assert value is not None
    assert float(value.group(1)) == 50.0
    assert float(value.group(2)) == pytest.approx(50 - 100 / 3)
    assert "Employee NPS per pulse" in html


def test_the_team_dashboard_without_pulses_shows_a_dash(workspace: Any) -> None:
    (admin,) = agents(workspace, 1, role="admin")

    html = _client(admin).get(reverse("analytics:team")).content.decode()

    assert re.search(r'data-metric="enps".*?data-value=""', html, re.S)
    assert "Employee NPS per pulse" not in html


# --- API ---------------------------------------------------------------------------------------

URL = "/api/v1/analytics/enps"


def test_the_api_lists_pulses_with_comments_for_admins_only(
    workspace: Any, other_workspace: Any, member: Callable[[str], ApiClient]
) -> None:
    pulse(workspace, months_ago=1, asked=5, scores=(10, 9, 7, 2), comments=("More training",))
    pulse(other_workspace, months_ago=1, scores=(0, 0, 0))

    as_admin = member("admin").get(URL).json()
    as_agent = member("agent").get(URL).json()

    assert as_admin["min_answers"] == 3
    (p,) = as_admin["pulses"]
    assert (p["answers"], p["asked"], p["response_rate"], p["enps"]) == (4, 5, 80.0, 25.0)
    assert (p["promoters"], p["passives"], p["detractors"]) == (2, 1, 1)
    assert p["comments"] == ["More training"]
    assert as_agent["pulses"][0]["enps"] == 25.0
    assert as_agent["pulses"][0]["comments"] is None


def test_an_agent_answers_over_the_api_and_a_second_answer_replaces_the_first(
    workspace: Any, make_token: Callable[..., str]
) -> None:
    (agent,) = agents(workspace, 1)
    api = ApiClient(make_token(agent, workspace))
    assert_problem(api.post(f"{URL}/answer", {"score": 9}), 409, "conflict")
    pulse(workspace, is_open=True, asked=1)

    first = api.post(f"{URL}/answer", {"score": 6, "comment": "Busy month"})
    second = api.post(f"{URL}/answer", {"score": 8})

    assert first.status_code == 200, first.content
    assert first.json()["replaced"] is False
    assert second.json()["replaced"] is True
    assert list(PulseAnswer.objects.values_list("score", "comment")) == [(8, "")]
    assert api.get(URL).json()["pulses"][0]["enps"] is None  # open: no score yet
    assert_problem(api.post(f"{URL}/answer", {"score": 11}), 422)


def test_an_admin_is_not_asked_over_the_api(
    workspace: Any, member: Callable[[str], ApiClient]
) -> None:
    pulse(workspace, is_open=True)

    assert_problem(member("admin").post(f"{URL}/answer", {"score": 9}), 403, "forbidden")


def test_employee_nps_can_have_an_owner_and_a_target(
    workspace: Any, member: Callable[[str], ApiClient]
) -> None:
    (owner,) = agents(workspace, 1, role="supervisor")

    response = member("admin").put(
        "/api/v1/analytics/targets/enps",
        {"owner_id": owner.pk, "target": 20, "direction": "higher"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["metric"] == "enps"
