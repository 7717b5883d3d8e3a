"""A drill-down lists exactly the conversations its number counts: each named subset's database
condition (`SUBSET_QUERIES`, what the list reads) selects the same conversations as its
predicate over the facts (`SUBSETS`, what the dashboards count), for any filters and moment."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.analytics.dashboards import drill
from ascolto.analytics.dashboards.conversations import (
    SUBSET_QUERIES,
    SUBSETS,
    filtered_facts,
    subset,
    subset_queryset,
)
from ascolto.inbox.models import Conversation
from tests.analytics.test_rollups import DAYS, NOW, PICKS, _fill, _filters


def test_every_subset_has_its_database_condition():
    assert SUBSET_QUERIES.keys() == SUBSETS.keys()


@pytest.mark.parametrize("seed", [3, 4])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted(SUBSETS)),
    first=st.integers(min_value=0, max_value=DAYS + 2),
    length=st.integers(min_value=0, max_value=DAYS + 2),
    pick=st.sampled_from(PICKS),
    later_hours=st.sampled_from([0, 3, 30, 400]),
)
def test_the_list_behind_a_number_holds_exactly_what_it_counts(
    workspace: Any, seed: int, name: str, first: int, length: int, pick: str, later_hours: int
) -> None:
    if not hasattr(workspace, "_drill_data"):
        workspace._drill_data = _fill(workspace, seed, count=90)
        # Merged conversations count nowhere and are listed nowhere.
        kept, *gone = Conversation.objects.filter(workspace=workspace).order_by("pk")[:3]
        Conversation.objects.filter(pk__in=[c.pk for c in gone]).update(merged_into=kept)
    filters = _filters(workspace, workspace._drill_data, first, length, pick)
    now = NOW + dt.timedelta(hours=later_hours)

    counted = [
        c.id for c in subset(filtered_facts(workspace=workspace, filters=filters), name, now=now)
    ]
    listed = subset_queryset(workspace=workspace, filters=filters, name=name, now=now)

    assert sorted(listed.values_list("pk", flat=True)) == counted
    label, count, rows = drill.drill_conversations(
        workspace=workspace, filters=filters, name=name, now=now
    )
    assert count == len(counted)
    assert [row.pk for row in rows] == counted[: drill.DRILL_LIMIT]
    assert label == str(SUBSETS[name][0])


def test_the_list_is_cut_at_the_limit_but_the_count_is_whole(
    workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _fill(workspace, seed=8, count=30)
    filters = _filters(workspace, data, DAYS, DAYS, "")
    monkeypatch.setattr(drill, "DRILL_LIMIT", 5)

    _, count, rows = drill.drill_conversations(
        workspace=workspace, filters=filters, name="all", now=NOW
    )

    everything = sorted(
        Conversation.objects.filter(workspace=workspace).values_list("pk", flat=True)
    )
    assert count == 30
    assert [row.pk for row in rows] == everything[:5]


def test_another_workspace_s_conversations_are_never_listed(
    workspace: Any, other_workspace: Any
) -> None:
    data = _fill(workspace, seed=9, count=10)
    _fill(other_workspace, seed=9, count=10)
    filters = _filters(workspace, data, DAYS, DAYS, "")

    _, count, rows = drill.drill_conversations(
        workspace=workspace, filters=filters, name="all", now=NOW
    )

    assert count == 10
    assert {row.workspace_id for row in rows} == {workspace.pk}
