"""The snapshot rows every kind shares (`analytics.snapshots`): one row per kind, period and
filters; a computation queued at most once per REQUEUE_AFTER; storing clears the request."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from ascolto.analytics import snapshots
from ascolto.analytics.dashboards.filters import parse_filters
from ascolto.analytics.models import Snapshot

PERIOD = {"from": "2026-03-02", "to": "2026-03-08"}
JOURNEY, VALUE = Snapshot.Kind.JOURNEY, Snapshot.Kind.VALUE


def filters_of(workspace):
    return parse_filters(PERIOD, workspace=workspace)


def test_kinds_of_the_same_period_and_filters_keep_their_own_rows(workspace):
    filters = filters_of(workspace)

    snapshots.store(JOURNEY, workspace, filters, "", {"customers": 3})
    snapshots.store(VALUE, workspace, filters, "", {"revenue": 12.0})
    snapshots.store(VALUE, workspace, filters, "tier=gold", {"revenue": 5.0})
    snapshots.store(VALUE, workspace, filters, "", {"revenue": 14.0})  # computed again

    assert snapshots.rows(JOURNEY, workspace, filters, "").get().data == {"customers": 3}
    assert snapshots.rows(VALUE, workspace, filters, "").get().data == {"revenue": 14.0}
    assert snapshots.rows(VALUE, workspace, filters, "tier=gold").get().data == {"revenue": 5.0}
    assert Snapshot.objects.count() == 3


def test_rows_are_scoped_by_workspace(workspace, other_workspace):
    snapshots.store(VALUE, workspace, filters_of(workspace), "", {"revenue": 1.0})

    assert not snapshots.rows(VALUE, other_workspace, filters_of(other_workspace), "").exists()


def test_a_computation_is_queued_once_until_requeue_after(
    workspace, django_capture_on_commit_callbacks
):
    filters = filters_of(workspace)
    now = timezone.now()
    queued: list[str] = []

    def ask(at: dt.datetime) -> bool:
        return snapshots.request(
            VALUE, workspace, filters, "", now=at, enqueue=lambda: queued.append("job")
        )

    with django_capture_on_commit_callbacks(execute=True):
        first = ask(now)
        again = ask(now + dt.timedelta(minutes=1))
        later = ask(now + snapshots.REQUEUE_AFTER + dt.timedelta(seconds=1))

    assert (first, again, later) == (True, False, True)
    assert queued == ["job", "job"]
    row = snapshots.rows(VALUE, workspace, filters, "").get()
    assert row.computed_at is None  # asked for, not computed yet
    assert row.data == {}

    snapshots.store(VALUE, workspace, filters, "", {"revenue": 2.0})
    row.refresh_from_db()
    assert row.requested_at is None
    assert row.computed_at is not None
