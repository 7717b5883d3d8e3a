"""On PostgreSQL: first exposures of one unit arriving at once record one assignment."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, transaction

from ascolto.analytics.experiments import services
from ascolto.analytics.models import ExperimentAssignment
from tests.accounts.factories import WorkspaceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _only_on_postgres(settings: Any) -> None:
    if not settings.IS_POSTGRES:
        pytest.skip("concurrent writers are what this checks; run with DATABASE_URL=postgres://")


def test_simultaneous_first_exposures_record_one_assignment() -> None:
    with transaction.atomic():
        experiment = services.experiment_create(
            workspace=WorkspaceFactory(),
            name="Race",
            unit="customer",
            variants=[{"key": "A", "weight": 1}, {"key": "B", "weight": 1}],
            metric="converted",
            design="sequential",
            baseline=0.1,
            mde=0.05,
        )
        services.experiment_start(experiment=experiment)
    barrier = threading.Barrier(4)

    def expose() -> str:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                return services.experiment_assign(experiment=experiment, unit_id=777)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        variants = [f.result(timeout=30) for f in [pool.submit(expose) for _ in range(4)]]

    assert len(set(variants)) == 1
    assert ExperimentAssignment.objects.filter(experiment=experiment, unit_id=777).count() == 1
