"""Journey snapshots: the stored figures equal the direct computation; the page and the API
read a fresh snapshot, compute small workspaces directly and queue large ones (polling while
the worker computes); the hourly job stores the preset periods of large workspaces."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.analytics.dashboards.filters import TIERS, parse_filters
from ascolto.analytics.journey import selectors, snapshots
from ascolto.analytics.models import Snapshot
from ascolto.analytics.tasks import JOURNEY_LOCK, refresh_journey_snapshots
from tests.analytics import test_journey as base
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.ui.conftest import login

PERIOD, answer, at = base.PERIOD, base.answer, base.at
world, member, api = base.world, base.member, base.api  # the journey tests' fixtures


def filters_of(workspace, **params):
    return parse_filters({**PERIOD, **params}, workspace=workspace)


def same(stored: selectors.Journey, direct: selectors.Journey) -> None:
    assert (stored.customers, stored.unhappy) == (direct.customers, direct.unhappy)
    assert [dataclasses.asdict(s) for s in stored.stages] == [
        dataclasses.asdict(s) for s in direct.stages
    ]
    assert [dataclasses.asdict(p) for p in stored.pain_points] == [
        dataclasses.asdict(p) for p in direct.pain_points
    ]


@pytest.mark.parametrize("tier", ["", *TIERS])
def test_the_snapshot_equals_the_direct_computation(world, tier):
    workspace = world[0]
    filters = filters_of(workspace, tier=tier)

    snapshot = snapshots.snapshot_compute(workspace=workspace, filters=filters)
    snapshot.refresh_from_db()

    same(
        snapshots.from_data(snapshot.data), selectors.journey(workspace=workspace, filters=filters)
    )


STATUSES = ["placed", "shipped", "delayed", "delivered", "returned", "cancelled", "refunded"]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    orders=st.lists(
        st.tuples(
            st.integers(0, 3), st.integers(1, 8), st.sampled_from(STATUSES), st.integers(-2, 2)
        ),
        max_size=10,
    ),
    scores=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 10), st.sampled_from(["delivery", "billing"])),
        max_size=4,
    ),
)
def test_any_snapshot_equals_the_direct_computation(workspace, orders, scores):
    workspace.timezone = "UTC"
    workspace.save()
    Snapshot.objects.filter(kind=snapshots.KIND, workspace=workspace).delete()
    people = [CustomerFactory(workspace=workspace) for _ in range(4)]
    for who, day, status, late in orders:
        OrderFactory(
            customer=people[who], placed_at=at(3, day), status=status,
            promised_at=at(3, 9), delivered_at=at(3, 9 + late) if status == "delivered" else None,
        )  # fmt: skip
    for n, (who, score, touchpoint) in enumerate(scores):
        answer(workspace, people[who], nps=score, touchpoint=touchpoint, when=at(3, 5), n=n)
    filters = parse_filters({"from": "2026-03-02", "to": "2026-03-10"}, workspace=workspace)

    snapshot = snapshots.snapshot_compute(workspace=workspace, filters=filters)
    snapshot.refresh_from_db()

    same(
        snapshots.from_data(snapshot.data), selectors.journey(workspace=workspace, filters=filters)
    )


def test_the_page_reads_a_fresh_snapshot_and_says_when(client, member, world):
    workspace = world[0]
    snapshot = snapshots.snapshot_compute(workspace=workspace, filters=filters_of(workspace))
    computed = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=20)
    Snapshot.objects.filter(kind=snapshots.KIND, pk=snapshot.pk).update(
        computed_at=computed, data={**snapshot.data, "customers": 999}
    )
    login(client, member)

    html = client.get(reverse("analytics:journey"), PERIOD).content.decode()

    assert "999 customers touched" in html
    assert f"Computed at {computed:%H:%M}" in html


def test_a_stale_snapshot_is_not_used_for_a_small_workspace(client, member, world):
    workspace = world[0]
    snapshot = snapshots.snapshot_compute(workspace=workspace, filters=filters_of(workspace))
    Snapshot.objects.filter(kind=snapshots.KIND, pk=snapshot.pk).update(
        computed_at=timezone.now() - dt.timedelta(minutes=61),
        data={**snapshot.data, "customers": 999},
    )
    login(client, member)

    html = client.get(reverse("analytics:journey"), PERIOD).content.decode()

    assert "5 customers touched" in html
    assert "Computed at" not in html


def test_a_snapshot_of_another_shape_is_computed_again(client, member, world):
    workspace = world[0]
    snapshot = snapshots.snapshot_compute(workspace=workspace, filters=filters_of(workspace))
    Snapshot.objects.filter(kind=snapshots.KIND, pk=snapshot.pk).update(data={"customers": 999})
    login(client, member)

    response = client.get(reverse("analytics:journey"), PERIOD)

    assert response.status_code == 200
    assert "5 customers touched" in response.content.decode()


def test_a_large_workspace_is_computed_by_a_worker_while_the_page_polls(
    client,
    member,
    world,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    monkeypatch.setattr(snapshots, "DIRECT_ROWS", 3)
    login(client, member)

    with django_capture_on_commit_callbacks() as queued:
        first = client.get(reverse("analytics:journey"), PERIOD).content.decode()
        again = client.get(reverse("analytics:journey"), PERIOD).content.decode()

    assert 'data-testid="journey-pending"' in first
    assert 'hx-trigger="every 3s"' in first
    assert 'data-testid="journey-pending"' in again
    assert len(queued) == 1  # asked once, not once per poll
    queued[0]()  # the worker (Huey runs immediately in tests)

    done = client.get(reverse("analytics:journey"), PERIOD).content.decode()
    assert 'data-testid="journey-pending"' not in done
    assert "5 customers touched" in done
    assert "Computed at" in done


def test_the_api_answers_202_while_computing_then_the_figures(
    api,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    monkeypatch.setattr(snapshots, "DIRECT_ROWS", 3)

    with django_capture_on_commit_callbacks(execute=True):
        pending = api.get("analytics/journey", **PERIOD)
    done = api.get("analytics/journey", **PERIOD)

    assert pending.status_code == 202
    assert pending.json()["status"] == "computing"
    assert done.status_code == 200
    body = done.json()
    assert (body["customers"], body["unhappy"]) == (5, 3)
    assert body["computed_at"] is not None
    assert body["pain_points"][0]["key"] == "order:late_delivery"


def test_the_hourly_job_stores_the_presets_of_large_workspaces_only(
    world,
    other_workspace,
    monkeypatch,
):
    monkeypatch.setattr(snapshots, "DIRECT_ROWS", 3)
    workspace = world[0]
    now = at(3, 8, 12)

    stored = snapshots.snapshots_refresh(now=now)

    rows = Snapshot.objects.filter(kind=snapshots.KIND, workspace=workspace)
    assert stored == rows.count() == len(snapshots.PRESET_DAYS) * (len(TIERS) + 1)
    assert not Snapshot.objects.filter(kind=snapshots.KIND, workspace=other_workspace).exists()
    week = rows.get(first_day=dt.date(2026, 3, 2), last_day=dt.date(2026, 3, 8), filters_key="")
    filters = filters_of(workspace)
    same(snapshots.from_data(week.data), selectors.journey(workspace=workspace, filters=filters))


def test_the_hourly_job_skips_when_another_worker_runs_it(world, monkeypatch):
    from tests.connectors.email.test_imap import held_by_another_worker

    monkeypatch.setattr(snapshots, "DIRECT_ROWS", 3)
    with held_by_another_worker(JOURNEY_LOCK):
        assert refresh_journey_snapshots.call_local() is None
    assert not Snapshot.objects.filter(kind=snapshots.KIND).exists()
