"""The API's exports in both formats: a Parquet file holds the same rows as the CSV."""

from __future__ import annotations

import datetime as dt
import io

import pyarrow.parquet as pq
import pytest

from ascolto.analytics import export
from tests.analytics.dashboards.conftest import PERIOD
from tests.analytics.dashboards.test_export import read_csv
from tests.api.conftest import ApiClient, assert_problem
from tests.customers.factories import OrderFactory


@pytest.fixture
def api(scenario, make_token):
    return ApiClient(make_token(scenario.agent1, scenario.workspace))


def parquet_rows(response) -> list[dict[str, object]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    return pq.read_table(io.BytesIO(response.content)).to_pylist()


def as_csv_cell(value: object) -> str:
    return export._cell(value)


def test_conversation_parquet_has_the_csv_rows(api, scenario):
    csv_rows = read_csv(api.get("analytics/export/conversations", **PERIOD, format="csv"))
    parquet = parquet_rows(api.get("analytics/export/conversations", **PERIOD, format="parquet"))

    assert [int(r["id"]) for r in csv_rows] == [scenario.c1.pk, scenario.c2.pk, scenario.c3.pk]
    assert list(parquet[0]) == export.CONVERSATION_COLUMNS
    assert [{k: as_csv_cell(v) for k, v in row.items()} for row in parquet] == csv_rows
    assert parquet[0]["first_response_seconds"] == 600
    assert parquet[0]["resolved_at"] == dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)


def test_customer_parquet_has_the_csv_rows(api, scenario):
    OrderFactory(
        customer=scenario.gold,
        total="120.50",
        currency="EUR",
        placed_at=dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC),
    )
    csv_rows = read_csv(api.get("analytics/export/customers", **PERIOD))
    parquet = parquet_rows(api.get("analytics/export/customers", **PERIOD, format="parquet"))

    assert {r["name"] for r in csv_rows} == {"Gold Gianna", "Silver Sara"}
    assert [{k: as_csv_cell(v) for k, v in row.items()} for row in parquet] == csv_rows


def test_parquet_follows_the_filters(api, scenario):
    rows = parquet_rows(
        api.get("analytics/export/conversations", **PERIOD, tier="silver", format="parquet")
    )

    assert [r["id"] for r in rows] == [scenario.c2.pk, scenario.c3.pk]


def test_an_empty_parquet_export_still_has_the_columns(api):
    rows = api.get(
        "analytics/export/conversations", **{"from": "2020-01-01", "to": "2020-01-02"},
        format="parquet",
    )  # fmt: skip

    table = pq.read_table(io.BytesIO(rows.content))
    assert table.num_rows == 0
    assert table.column_names == export.CONVERSATION_COLUMNS


def test_the_csv_export_streams(api):
    response = api.get("analytics/export/customers", **PERIOD, format="csv")

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_an_unknown_format_is_a_400_naming_the_field(api):
    body = assert_problem(
        api.get("analytics/export/conversations", **PERIOD, format="xlsx"), 400, "invalid_format"
    )

    assert "format" in body["errors"]


def test_bad_filters_are_a_400_for_parquet_too(api):
    body = assert_problem(
        api.get("analytics/export/customers", format="parquet", tier="x"), 400, "invalid_filters"
    )

    assert "tier" in body["errors"]


def test_parquet_export_is_scoped_to_the_tokens_workspace(scenario, other_workspace, make_token):
    from tests.accounts.factories import MembershipFactory, UserFactory

    outsider = UserFactory()
    MembershipFactory(workspace=other_workspace, user=outsider)
    other = ApiClient(make_token(outsider, other_workspace))

    rows = parquet_rows(other.get("analytics/export/conversations", **PERIOD, format="parquet"))

    assert [r["id"] for r in rows] == [scenario.foreign.pk]


def test_the_export_needs_a_token(scenario):
    assert_problem(ApiClient().get("analytics/export/conversations", format="parquet"), 401)
