"""Experiments over the API and on the staff pages; the metric targets page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.analytics.experiments import services
from ascolto.analytics.models import Experiment, MetricTarget
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.api.conftest import ApiClient, assert_problem, session_client

BODY = {
    "name": "Shorter survey delay",
    "hypothesis": "Asking sooner gets more answers.",
    "unit": "conversation",
    "lever": "survey_delay",
    "variants": [
        {"key": "A", "weight": 1, "payload": {}},
        {"key": "B", "weight": 1, "payload": {"delay_minutes": 5}},
    ],
    "metric": "survey_answered",
    "design": "sequential",
    "baseline": 0.2,
    "mde": 0.05,
}
URL = "/api/v1/analytics/experiments"


@pytest.fixture
def admin_api(member: Callable[[str], ApiClient]) -> ApiClient:
    return member("admin")


def test_create_start_read_results_and_stop(admin_api: ApiClient) -> None:
    created = admin_api.post(URL, BODY)
    assert created.status_code == 201, created.content
    e = created.json()
    assert e["status"] == "draft"
    assert e["sample_size"] == 1094  # (1.96*sqrt(2*.225*.775) + .8416*sqrt(.16+.1875))² / .05²

    started = admin_api.post(f"{URL}/{e['id']}/start")
    assert started.json()["status"] == "running"
    assert started.json()["started_at"]

    result = admin_api.get(f"{URL}/{e['id']}/results").json()
    assert [v["key"] for v in result["variants"]] == ["A", "B"]
    assert result["variants"][0]["versus_control"] is None
    assert result["variants"][1]["versus_control"]["decision"] == "not_enough_data"
    assert result["srm"] is None

    assert admin_api.get(URL).json()[0]["id"] == e["id"]
    assert admin_api.post(f"{URL}/{e['id']}/stop").json()["status"] == "stopped"
    assert_problem(admin_api.post(f"{URL}/{e['id']}/stop"), 409, "conflict")


@pytest.mark.parametrize(
    "change",
    [
        {"variants": [{"key": "A", "weight": 0}, {"key": "B", "weight": 1}]},
        {"variants": [{"key": "A", "weight": -1}, {"key": "B", "weight": 1}]},
        {"variants": [{"key": "A", "weight": 1}]},
        {"variants": [{"key": "A", "weight": "heavy"}, {"key": "B", "weight": 1}]},
        {"metric": "happiness"},
        {"baseline": 1.5},
    ],
)
def test_bad_input_is_a_422_and_nothing_is_created(admin_api: ApiClient, change: Any) -> None:
    assert_problem(admin_api.post(URL, BODY | change), 422)
    assert not Experiment.objects.exists()


def test_unknown_and_foreign_ids_are_404(
    admin_api: ApiClient, other_api: ApiClient, other_workspace: Any
) -> None:
    assert_problem(admin_api.get(f"{URL}/999999"), 404, "not_found")
    assert_problem(admin_api.get(f"{URL}/999999/results"), 404, "not_found")
    assert_problem(admin_api.post(f"{URL}/999999/start"), 404, "not_found")
    mine = admin_api.post(URL, BODY).json()["id"]

    assert_problem(other_api.get(f"{URL}/{mine}"), 404, "not_found")
    assert_problem(other_api.get(f"{URL}/{mine}/results"), 404, "not_found")
    assert other_api.get(URL).json() == []


def test_agents_read_but_do_not_create_or_start(
    admin_api: ApiClient, member: Callable[[str], ApiClient]
) -> None:
    agent = member("agent")
    assert_problem(agent.post(URL, BODY), 403)
    mine = admin_api.post(URL, BODY).json()["id"]
    assert_problem(agent.post(f"{URL}/{mine}/start"), 403)
    assert agent.get(f"{URL}/{mine}").status_code == 200


# --- pages ------------------------------------------------------------------------------------


def _user(workspace: Any, role: str) -> Any:
    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user, role=role)
    return user


def test_an_admin_creates_and_starts_an_experiment_from_the_pages(workspace: Any) -> None:
    client = session_client(_user(workspace, "admin"))
    assert client.get("/analytics/experiments/new/").status_code == 200
    form = {
        "name": "Faster CSAT",
        "hypothesis": "",
        "unit": "conversation",
        "lever": "survey_delay",
        "metric": "csat_positive",
        "design": "fixed",
        "baseline": "0,10",  # a decimal comma is accepted
        "mde": "0.02",
        "alpha": "0.05",
        "power": "0.8",
        "variants": '[{"key": "A", "weight": 1}, {"key": "B", "weight": 1,'
        ' "payload": {"delay_minutes": 0}}]',
    }
    response = client.post("/analytics/experiments/new/", form)
    e = Experiment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/analytics/experiments/{e.pk}/"

    page = client.get(f"/analytics/experiments/{e.pk}/").content.decode()
    assert 'data-testid="sample-size">3841<' in page
    assert "= 3841" in page  # the computation, numbers in
    assert client.post(f"/analytics/experiments/{e.pk}/start/").status_code == 302
    e.refresh_from_db()
    assert e.status == "running"

    page = client.get(f"/analytics/experiments/{e.pk}/").content.decode()
    assert 'data-testid="not-enough"' in page
    assert 'data-decision="not_enough_data"' in page
    assert "Faster CSAT" in client.get("/analytics/experiments/").content.decode()


def test_the_form_keeps_what_was_typed_and_says_what_is_wrong(workspace: Any) -> None:
    client = session_client(_user(workspace, "admin"))
    response = client.post(
        "/analytics/experiments/new/",
        {"name": "X", "unit": "conversation", "metric": "csat_positive", "design": "fixed",
         "baseline": "0.1", "mde": "0.02", "alpha": "0.05", "power": "0.8",
         "variants": '[{"key": "A", "weight": 0}, {"key": "B", "weight": 1}]'},
    )  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 422
    assert 'id="e-variants"' in page
    assert "weight" in page
    assert not Experiment.objects.exists()

    response = client.post("/analytics/experiments/new/", {"name": "X", "variants": "[oops"})
    assert response.status_code == 422
    assert "not valid JSON" in response.content.decode()


def test_results_page_shows_counts_and_the_chart(workspace: Any) -> None:
    e = services.experiment_create(
        workspace=workspace, name="Race", unit="customer", metric="converted",
        variants=[{"key": "A", "weight": 1}, {"key": "B", "weight": 1}],
        design="sequential", baseline=0.1, mde=0.05,
    )  # fmt: skip
    services.experiment_start(experiment=e)
    for unit in range(30):
        services.experiment_assign(experiment=e, unit_id=10_000 + unit)
    page = session_client(_user(workspace, "analyst")).get(f"/analytics/experiments/{e.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html
    assert 'data-n="' in html
    assert f"/analytics/experiments/{e.pk}/stop/" not in html  # only admins get the buttons


def test_pages_404_for_unknown_and_foreign_experiments(
    workspace: Any, other_workspace: Any
) -> None:
    foreign = services.experiment_create(
        workspace=other_workspace, name="Theirs", unit="conversation", metric="csat_positive",
        variants=[{"key": "A", "weight": 1}, {"key": "B", "weight": 1}],
        design="fixed", baseline=0.5, mde=0.1,
    )  # fmt: skip
    client = session_client(_user(workspace, "admin"))
    assert client.get("/analytics/experiments/999999/").status_code == 404
    assert client.get(f"/analytics/experiments/{foreign.pk}/").status_code == 404
    assert client.post(f"/analytics/experiments/{foreign.pk}/start/").status_code == 404
    assert "Theirs" not in client.get("/analytics/experiments/").content.decode()


def test_only_admins_create(workspace: Any) -> None:
    client = session_client(_user(workspace, "agent"))
    assert client.get("/analytics/experiments/new/").status_code == 403
    assert client.get("/analytics/experiments/").status_code == 200


def test_pages_render_in_hebrew_right_to_left(workspace: Any) -> None:
    client = session_client(_user(workspace, "admin"))
    client.cookies["django_language"] = "he"
    page = client.get("/analytics/experiments/new/").content.decode()
    assert 'dir="rtl"' in page


# --- metric targets page ----------------------------------------------------------------------


def test_an_admin_sets_changes_and_removes_a_target(workspace: Any) -> None:
    admin = _user(workspace, "admin")
    owner = _user(workspace, "agent")
    client = session_client(admin)
    assert 'data-metric="csat"' in client.get("/analytics/targets/").content.decode()

    form = {"metric": "csat", "owner": owner.pk, "target": "85", "direction": "higher"}
    assert client.post("/analytics/targets/", form).status_code == 302
    t = MetricTarget.objects.get(workspace=workspace, metric="csat")
    assert (t.owner_id, t.target, t.direction) == (owner.pk, 85.0, "higher")

    client.post("/analytics/targets/", form | {"target": "90"})
    assert MetricTarget.objects.get(workspace=workspace, metric="csat").target == 90.0
    page = client.get("/analytics/targets/").content.decode()
    assert 'value="90.0"' in page

    client.post("/analytics/targets/", {"metric": "csat", "remove": "1"})
    assert not MetricTarget.objects.filter(workspace=workspace).exists()


@pytest.mark.parametrize(
    "change",
    [{"target": "lots"}, {"target": "nan"}, {"owner": ""}, {"metric": "vibes"},
     {"direction": "sideways"}],
)  # fmt: skip
def test_bad_targets_are_refused_and_nothing_changes(workspace: Any, change: Any) -> None:
    owner = _user(workspace, "agent")
    client = session_client(_user(workspace, "admin"))
    form = {"metric": "csat", "owner": owner.pk, "target": "85", "direction": "higher"}
    response = client.post("/analytics/targets/", form | change)
    assert response.status_code == 422
    assert 'data-testid="target-errors"' in response.content.decode()
    assert not MetricTarget.objects.exists()


def test_the_owner_must_belong_to_the_workspace(workspace: Any, other_workspace: Any) -> None:
    outsider = _user(other_workspace, "admin")
    client = session_client(_user(workspace, "admin"))
    form = {"metric": "csat", "owner": outsider.pk, "target": "85", "direction": "higher"}
    assert client.post("/analytics/targets/", form).status_code == 422
    assert not MetricTarget.objects.exists()


def test_only_admins_edit_targets(workspace: Any) -> None:
    client = session_client(_user(workspace, "agent"))
    assert client.get("/analytics/targets/").status_code == 403
    assert client.post("/analytics/targets/", {"metric": "csat"}).status_code == 403


# --- robustness and query budgets -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=5,
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(field=st.sampled_from(sorted(BODY)), value=json_values)
def test_creating_with_any_broken_field_is_never_a_500(
    admin_api: ApiClient, field: str, value: Any
) -> None:
    response = admin_api.post(URL, BODY | {field: value})
    assert response.status_code in (201, 422), response.content[:300]
    if response.status_code == 422:
        assert_problem(response, 422)


def test_list_and_results_read_a_fixed_number_of_queries(
    admin_api: ApiClient, workspace: Any, django_assert_max_num_queries: Any
) -> None:
    e = services.experiment_create(workspace=workspace, **{
        k: v for k, v in BODY.items() if k != "lever"
    })  # fmt: skip
    services.experiment_start(experiment=e)
    for unit in range(40):
        services.experiment_assign(experiment=e, unit_id=unit)
    admin_api.post(URL, BODY)
    with django_assert_max_num_queries(3):  # auth 2 + experiments
        assert len(admin_api.get(URL).json()) == 2
    with django_assert_max_num_queries(5):  # auth 2 + experiment + counts + outcomes
        assert admin_api.get(f"{URL}/{e.pk}/results").status_code == 200
