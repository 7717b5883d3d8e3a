"""Exports: one row per conversation and per customer, streamed; the API gives the same figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
from urllib.parse import urlencode

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from ascolto.analytics import export
from ascolto.analytics.dashboards.filters import parse_filters
from tests.analytics.dashboards.conftest import NOW, PERIOD, conversation
from tests.api.conftest import ApiClient, assert_problem
from tests.customers.factories import OrderFactory


def read_csv(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_conversation_csv_has_every_timestamp_and_metric(member_client, scenario):
    url = reverse("analytics:export_conversations") + "?" + urlencode(PERIOD)

    response = member_client.get(url)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = read_csv(response)
    assert [int(r["id"]) for r in rows] == [scenario.c1.pk, scenario.c2.pk, scenario.c3.pk]
    c1, c2, c3 = rows
    assert c1["first_customer_message_at"] == "2026-03-02T09:00:00+00:00"
    assert c1["first_response_at"] == "2026-03-02T09:10:00+00:00"
    assert c1["resolved_at"] == "2026-03-02T10:00:00+00:00"
    assert c1["first_response_seconds"] == "600"
    assert c1["resolution_seconds"] == "3600"
    assert c1["channel"] == "webchat"
    assert c1["team_id"] == str(scenario.team.pk)
    assert c2["reopen_count"] == "1"
    assert c2["transfer_count"] == "1"
    assert c2["resolution_seconds"] == "7200"
    assert c3["first_response_seconds"] == ""
    assert c3["first_response_sla_met"] == "false"
    assert c1["first_response_sla_met"] == ""  # no target, not judged


def test_conversation_csv_follows_the_filters(member_client, scenario):
    url = reverse("analytics:export_conversations") + "?" + urlencode({**PERIOD, "tier": "silver"})

    rows = read_csv(member_client.get(url))

    assert [int(r["id"]) for r in rows] == [scenario.c2.pk, scenario.c3.pk]


def test_customer_csv_rows(member_client, scenario):
    OrderFactory(
        customer=scenario.gold,
        total="120.50",
        currency="EUR",
        placed_at=dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC),
    )
    url = reverse("analytics:export_customers") + "?" + urlencode(PERIOD)

    rows = {r["name"]: r for r in read_csv(member_client.get(url))}

    assert set(rows) == {"Gold Gianna", "Silver Sara"}
    assert rows["Gold Gianna"]["conversations_in_period"] == "1"
    assert rows["Gold Gianna"]["revenue_in_period"] == "120.50"
    assert rows["Silver Sara"]["conversations_in_period"] == "2"
    assert rows["Silver Sara"]["revenue_in_period"] == "0.00"


def test_cells_that_would_run_as_formulas_are_quoted(scenario):
    scenario.gold.name = "=HYPERLINK(1)"
    scenario.gold.save()
    filters = parse_filters(PERIOD, workspace=scenario.workspace)

    lines = list(
        export.csv_lines(
            export.CUSTOMER_COLUMNS,
            export.customer_rows(workspace=scenario.workspace, filters=filters),
        )
    )

    assert any("'=HYPERLINK(1)" in line for line in lines)


def test_conversation_rows_are_read_in_chunks(scenario, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(export, "CHUNK", 2)
    filters = parse_filters(PERIOD, workspace=scenario.workspace)
    rows = export.conversation_rows(workspace=scenario.workspace, filters=filters, now=NOW)

    first = next(rows)  # the first chunk only: rows are made as they are asked for
    assert first[0] == scenario.c1.pk
    with django_assert_max_num_queries(4):
        rest = list(rows)
    assert [r[0] for r in rest] == [scenario.c2.pk, scenario.c3.pk]


def test_parquet_when_pyarrow_is_installed(scenario):
    pq = pytest.importorskip("pyarrow.parquet")
    filters = parse_filters(PERIOD, workspace=scenario.workspace)

    data = export.parquet_bytes(
        export.CONVERSATION_COLUMNS,
        export.conversation_rows(workspace=scenario.workspace, filters=filters, now=NOW),
    )

    table = pq.read_table(io.BytesIO(data))
    assert table.column("id").to_pylist() == [scenario.c1.pk, scenario.c2.pk, scenario.c3.pk]


def test_parquet_download_when_pyarrow_is_installed(member_client, scenario):
    pq = pytest.importorskip("pyarrow.parquet")
    url = reverse("analytics:export_customers_parquet") + "?" + urlencode(PERIOD)

    response = member_client.get(url)

    table = pq.read_table(io.BytesIO(response.content))
    assert sorted(table.column("name").to_pylist()) == ["Gold Gianna", "Silver Sara"]


def test_parquet_without_pyarrow_says_to_use_csv(member_client, monkeypatch):
    monkeypatch.setattr(export, "parquet_available", lambda: False)
    url = reverse("analytics:export_conversations_parquet") + "?" + urlencode(PERIOD)

    response = member_client.get(url)

    assert response.status_code == 400
    assert "pyarrow" in response.content.decode()


# --- API -------------------------------------------------------------------------------------


@pytest.fixture
def api(scenario, make_token):
    return ApiClient(make_token(scenario.agent1, scenario.workspace))


def metrics_by_key(body):
    return {m["key"]: m for m in body["metrics"]}


def test_api_metrics_match_the_dashboard(api):
    response = api.get("analytics/metrics", **PERIOD)

    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"first_day": "2026-03-02", "last_day": "2026-03-08"}
    assert body["previous_period"] == {"first_day": "2026-02-23", "last_day": "2026-03-01"}
    m = metrics_by_key(body)
    assert m["conversations"]["value"] == 3
    assert m["conversations"]["previous"] == 1
    assert m["conversations"]["delta"] == 2
    assert m["frt_median"]["value"] == 1200
    assert m["resolution_median"]["value"] == 5400
    assert m["nps"]["value"] is None


def test_api_metrics_filters(api, scenario):
    body = api.get("analytics/metrics", **PERIOD, agent=str(scenario.agent2.pk)).json()

    assert metrics_by_key(body)["conversations"]["value"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": "03/02/2026"}, "from"), ({"channel": "pigeon"}, "channel"), ({"tier": "x"}, "tier")],
)
def test_api_bad_filters_are_400_problems(api, params, field):
    body = assert_problem(api.get("analytics/metrics", **params), 400, "invalid_filters")

    assert field in body["errors"]


def test_api_conversation_export(api, scenario):
    response = api.get("analytics/export/conversations.csv", **PERIOD, channel="email")

    rows = read_csv(response)
    assert [int(r["id"]) for r in rows] == [scenario.c2.pk]
    assert rows[0]["first_response_seconds"] == "1800"


def test_api_is_scoped_to_the_tokens_workspace(scenario, other_workspace, make_token):
    from tests.accounts.factories import MembershipFactory, UserFactory

    outsider = UserFactory()
    MembershipFactory(workspace=other_workspace, user=outsider)
    other = ApiClient(make_token(outsider, other_workspace))

    body = other.get("analytics/metrics", **PERIOD).json()
    rows = read_csv(other.get("analytics/export/conversations.csv", **PERIOD))

    assert metrics_by_key(body)["conversations"]["value"] == 1
    assert [int(r["id"]) for r in rows] == [scenario.foreign.pk]


def test_api_needs_authentication(scenario):
    assert_problem(ApiClient().get("analytics/metrics"), 401)


def test_a_conversation_started_by_us_counts_from_its_creation(api, scenario):
    c = conversation(
        scenario.workspace,
        customer=scenario.gold,
        channel="sms",
        start=dt.datetime(2026, 3, 6, 9, tzinfo=dt.UTC),
    )
    type(c).objects.filter(pk=c.pk).update(first_customer_message_at=None)

    rows = read_csv(api.get("analytics/export/conversations.csv", **PERIOD, channel="sms"))

    assert [int(r["id"]) for r in rows] == [c.pk]
    assert rows[0]["first_response_seconds"] == ""
