"""Journey drill-downs: the count of everyone behind a stage or a cause and the first page of
them, read from the snapshot (one key of one row) when there is a fresh one, computed directly
for a small workspace, and stored as a snapshot first for a large one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ascolto.analytics.dashboards.filters import parse_filters
from ascolto.analytics.journey import selectors, snapshots
from ascolto.analytics.models import Snapshot
from tests.analytics import test_journey as base
from tests.analytics.dashboards.conftest import conversation
from tests.ui.conftest import login

PERIOD, at, tag, triage = base.PERIOD, base.at, base.tag, base.triage
world, member, api = base.world, base.member, base.api  # the journey tests' fixtures


def filters_of(workspace):
    return parse_filters(PERIOD, workspace=workspace)


def test_a_drill_down_reads_the_page_kept_in_the_snapshot(world):
    workspace, c, convs, _ = world
    filters = filters_of(workspace)
    snapshots.snapshot_compute(workspace=workspace, filters=filters)
    # Arrives after the snapshot: not in it until the next computation.
    later = conversation(workspace, customer=c["E"], channel="email", start=at(3, 7))
    tag(later, "late")

    drill = snapshots.drill_for_page(workspace=workspace, filters=filters, cause="tag:late")

    assert [x.name for x in drill.customers] == ["A", "D"]
    assert drill.unhappy == {c["A"].pk}
    assert (drill.customer_count, drill.unhappy_count, drill.conversation_count) == (2, 1, 2)
    assert [x.pk for x in drill.conversations] == sorted(
        [convs["A"].pk, convs["D"].pk], reverse=True
    )
    assert drill.label == "Tag: late"


def test_counts_are_of_everyone_and_the_page_is_the_first_ones(world, monkeypatch):
    workspace, _c, _convs, _ = world
    monkeypatch.setattr(selectors, "DRILL_LIMIT", 2)
    filters = filters_of(workspace)
    snapshots.snapshot_compute(workspace=workspace, filters=filters)

    deliver = snapshots.drill_for_page(workspace=workspace, filters=filters, stage="deliver")

    # Deliver: A (unhappy), B, C (unhappy), D; unhappy first, then by id.
    assert (deliver.customer_count, deliver.unhappy_count) == (4, 2)
    assert [x.name for x in deliver.customers] == ["A", "C"]
    assert deliver.conversation_count == 2
    assert len(deliver.conversations) == 2


def test_the_support_stage_holds_every_conversation(world):
    workspace, _c, convs, _ = world
    filters = filters_of(workspace)
    snapshots.snapshot_compute(workspace=workspace, filters=filters)

    support = snapshots.drill_for_page(workspace=workspace, filters=filters, stage="support")

    assert support.conversation_count == 3
    assert [x.pk for x in support.conversations] == sorted(
        (x.pk for x in convs.values()), reverse=True
    )
    assert support.customer_count == 3  # A, B, D (B and D happy there; C's answer: discover)


def test_an_unknown_cause_has_nobody_behind_it(world):
    workspace = world[0]
    filters = filters_of(workspace)
    snapshots.snapshot_compute(workspace=workspace, filters=filters)

    drill = snapshots.drill_for_page(workspace=workspace, filters=filters, cause="tag:nothing")

    assert (drill.customer_count, drill.conversation_count, drill.customers) == (0, 0, [])


def test_without_a_snapshot_a_small_workspace_is_computed_directly(world):
    workspace, c, *_ = world

    drill = snapshots.drill_for_page(
        workspace=workspace, filters=filters_of(workspace), cause="order:late_delivery"
    )

    assert {x.pk for x in drill.customers} == {c["A"].pk, c["C"].pk}
    assert not Snapshot.objects.filter(kind=snapshots.KIND).exists()


def test_without_a_snapshot_a_large_workspace_stores_one_first(world, monkeypatch):
    workspace, c, *_ = world
    monkeypatch.setattr(snapshots, "DIRECT_ROWS", 3)
    filters = filters_of(workspace)

    drill = snapshots.drill_for_page(
        workspace=workspace, filters=filters, cause="intent:invoice_copy"
    )

    assert [x.pk for x in drill.customers] == [c["B"].pk]
    assert Snapshot.objects.filter(
        kind=snapshots.KIND, workspace=workspace, computed_at__isnull=False
    ).exists()
    again = snapshots.drill_for_page(workspace=workspace, filters=filters, stage="discover")
    assert [x.pk for x in again.customers] == [c["C"].pk]


def test_drill_downs_are_scoped_to_the_workspace(world, other_workspace):
    workspace, _c, _convs, foreign = world
    snapshots.snapshot_compute(workspace=workspace, filters=filters_of(workspace))
    theirs = filters_of(other_workspace)
    snapshots.snapshot_compute(workspace=other_workspace, filters=theirs)

    drill = snapshots.drill_for_page(workspace=other_workspace, filters=theirs, cause="tag:late")

    assert [x.pk for x in drill.conversations] == [foreign.pk]
    assert drill.customer_count == 1


def test_a_bad_choice_is_refused_before_any_read(world, django_assert_num_queries):
    workspace = world[0]

    with django_assert_num_queries(0), pytest.raises(selectors.ValidationFailed):
        snapshots.drill_for_page(workspace=workspace, filters=filters_of(workspace), cause="x")


def test_the_drill_down_page_and_api_read_the_snapshot(client, member, world, api):
    workspace, c, _convs, _ = world
    snapshots.snapshot_compute(workspace=workspace, filters=filters_of(workspace))
    login(client, member)

    html = client.get(
        reverse("analytics:journey_drill"), {**PERIOD, "cause": "order:late_delivery"}
    ).content.decode()
    body = api.get("analytics/journey/drill", **PERIOD, stage="deliver").json()

    assert f'data-customer="{c["C"].pk}"' in html
    assert (body["customer_count"], body["unhappy_count"]) == (4, 2)
    assert body["unhappy_customer_ids"] == sorted([c["A"].pk, c["C"].pk])
    assert body["customer_ids"][:2] == sorted([c["A"].pk, c["C"].pk])
