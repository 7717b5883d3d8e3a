"""Imports written on several PostgreSQL connections at once end as a single writer would end,
and a handle taken by another transaction between an import's checks and its insert is
reported, never dropped silently."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from ascolto.core.actors import Actor
from ascolto.core.models import Workspace
from ascolto.customers import importer, importer_sql
from ascolto.customers.models import Customer, Identity, Order
from tests.customers.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _only_on_postgres(settings: Any) -> None:
    if not settings.IS_POSTGRES:
        pytest.skip("several connections write at once; run with DATABASE_URL=postgres://...")


def run(workspace: Workspace, kind: str, path: Path, writers: int) -> importer.ImportResult:
    return importer.import_file(
        workspace=workspace,
        kind=kind,  # type: ignore[arg-type]
        path=path,
        fmt="csv",
        actor=Actor.system(),
        writers=writers,
        batch_size=7,
    )


def customers_csv(tmp_path: Path) -> Path:
    rows = ["external_id,name,email,phone,locale"]
    for i in range(120):
        rows.append(f"C{i},Name {i},c{i}@example.com,+39 347 {i:03d} 4567,it")
    # The same customers again, changed: the later row of a key wins.
    for i in range(0, 120, 3):
        rows.append(f"C{i},Renamed {i},,,he")
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def orders_csv(tmp_path: Path) -> Path:
    rows = ["external_id,customer_external_id,status,placed_at,total,currency"]
    for i in range(300):
        rows.append(f"O{i},C{i % 120},paid,2026-01-{1 + i % 28:02d}T10:00:00Z,{10 + i}.50,EUR")
    # Orders sent again: some cancelled, some moved to another customer.
    for i in range(0, 300, 5):
        rows.append(f"O{i},C{(i + 1) % 120},cancelled,2026-01-01T10:00:00Z,{10 + i}.50,EUR")
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def state(workspace: Workspace) -> dict[str, Any]:
    customers = {
        c.external_id: (c.name, c.locale, c.lifetime_spend, c.orders_count)
        for c in Customer.objects.filter(workspace=workspace)
    }
    identities = {
        (i.kind, i.value): (i.customer.external_id, i.is_primary)
        for i in Identity.objects.filter(workspace=workspace).select_related("customer")
    }
    orders = {
        o.external_id: (o.customer.external_id, o.status, o.total)
        for o in Order.objects.filter(workspace=workspace).select_related("customer")
    }
    return {"customers": customers, "identities": identities, "orders": orders}


def test_two_writers_end_where_one_writer_ends(tmp_path: Path) -> None:
    one = Workspace.objects.create(name="One", slug="one")
    two = Workspace.objects.create(name="Two", slug="two")
    customers, orders = customers_csv(tmp_path), orders_csv(tmp_path)

    results = {}
    for workspace, writers in ((one, 1), (two, 2)):
        results[writers] = (
            run(workspace, "customers", customers, writers),
            run(workspace, "orders", orders, writers),
        )

    assert state(one) == state(two)
    for kind in (0, 1):
        single, parallel = results[1][kind], results[2][kind]
        assert (parallel.created, parallel.updated, parallel.unchanged) == (
            single.created,
            single.updated,
            single.unchanged,
        )
    # What the rows said, not only that both runs agree.
    expected = state(one)
    assert len(expected["customers"]) == 120
    assert expected["customers"]["C3"][:2] == ("Renamed 3", "he")
    assert expected["orders"]["O5"] == ("C6", "cancelled", Decimal("15.50"))
    # C6: its own paid orders (O6, O126, O246) and O5, O125, O245, moved to it and cancelled
    # (counted, not spent); C5 lost those three, all it had.
    assert expected["customers"]["C6"][2:] == (Decimal("409.50"), 6)
    assert expected["customers"]["C5"][2:] == (Decimal("0.00"), 0)


def test_rows_racing_for_a_handle_across_writers_fail_whole(tmp_path: Path) -> None:
    workspace = Workspace.objects.create(name="Race", slug="race")
    rows = "".join(f"R{i},p{i % 7}@example.com\n" for i in range(80))
    path = tmp_path / "c.csv"
    path.write_text("external_id,email\n" + rows, encoding="utf-8")

    result = run(workspace, "customers", path, writers=2)

    # Each address goes to one customer; every other row claiming it is reported, none dropped.
    assert (result.created, result.failed_rows) == (7, 73)
    holders = Identity.objects.filter(workspace=workspace).values_list("customer_id", flat=True)
    assert sorted(holders) == sorted(
        Customer.objects.filter(workspace=workspace).values_list("id", flat=True)
    )
    assert all("already belongs to" in e["message"] for e in result.errors)
    # As with one writer, the first row of the file to claim an address gets it.
    owners = Identity.objects.filter(workspace=workspace).values_list(
        "value", "customer__external_id"
    )
    assert sorted(owners) == [(f"p{k}@example.com", f"R{k}") for k in range(7)]


def test_a_handle_taken_during_the_batch_fails_the_row(tmp_path: Path) -> None:
    """Another transaction inserts the address after the import has checked it and before the
    import inserts it: the import waits for it, notices the address is not its customer's, and
    writes the batch again, which reports the row."""
    workspace = Workspace.objects.create(name="Late", slug="late")
    taken = threading.Event()

    def take_the_address() -> None:
        try:
            with transaction.atomic():
                other = CustomerFactory(workspace=workspace, external_id="OTHER")
                Identity.objects.create(
                    workspace=workspace, customer=other, kind="email", value="late@example.com"
                )
                taken.set()
                time.sleep(1.5)  # the import checks meanwhile, then waits on this insert
        finally:
            connection.close()

    thread = threading.Thread(target=take_the_address)
    thread.start()
    assert taken.wait(10)
    path = tmp_path / "c.csv"
    path.write_text("external_id,email\nNEW,late@example.com\nFINE,fine@example.com\n")
    try:
        result = run(workspace, "customers", path, writers=1)
    finally:
        thread.join()

    assert (result.created, result.failed_rows) == (1, 1)
    assert "already belongs to customer" in result.errors[0]["message"]
    assert not Customer.objects.filter(workspace=workspace, external_id="NEW").exists()
    assert Identity.objects.get(
        workspace=workspace, value="late@example.com"
    ).customer.external_id == ("OTHER")


def test_a_large_import_keeps_the_planner_row_counts_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the middle of a load autovacuum has not counted the new rows yet; the import does, or
    PostgreSQL would plan each batch's lookups for an empty table."""
    monkeypatch.setattr(importer, "ANALYZE_FIRST", 20)
    workspace = Workspace.objects.create(name="Big", slug="big")
    rows = "".join(f"B{i},b{i}@example.com\n" for i in range(200))
    path = tmp_path / "c.csv"
    path.write_text("external_id,email\n" + rows, encoding="utf-8")

    run(workspace, "customers", path, writers=2)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname IN "
            "('customers_customer', 'customers_identity')"
        )
        counted = dict(cursor.fetchall())
    # Analysed after 20, 40, 80 and 160 rows written (batches of 7): at least 160 counted.
    assert counted["customers_customer"] >= 160
    assert counted["customers_identity"] >= 160


def test_a_batch_probes_the_index_for_each_staged_row_even_on_an_empty_tables_statistics() -> None:
    """The first batches of an import run on the statistics of tables that were empty (or held
    other workspaces) when last analysed. Every join must still probe an index per row; reading
    the staged rows once per customer, or the identities once per staged row, made the first
    batch of a 1M-customer import take minutes (the plans below are that batch's lookups)."""
    workspace = Workspace.objects.create(name="Empty stats", slug="empty-stats")
    writer = importer_sql.SqlWriter(workspace=workspace, by_index=True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {importer_sql.CUSTOMERS}, {importer_sql.IDENTITIES}")
        Customer.objects.bulk_create(
            Customer(workspace=workspace, external_id=f"E{i}", name=f"E {i}") for i in range(3000)
        )
        writer._probe_by_index(cursor)
        writer._stage(cursor, importer_sql.STAGE_CUSTOMERS)
        cursor.execute(
            f"INSERT INTO {importer_sql.STAGE_CUSTOMERS} (row_no, external_id) "  # noqa: S608
            "SELECT n, 'E' || n FROM generate_series(0, 2999) AS n"
        )
        plans = []
        for statement in (
            f"SELECT c.id FROM {importer_sql.STAGE_CUSTOMERS} s "  # noqa: S608
            f"JOIN {importer_sql.CUSTOMERS} c "
            "ON c.workspace_id = %s AND c.external_id = s.external_id",
            f"SELECT NOT EXISTS (SELECT 1 FROM {importer_sql.IDENTITIES} p "  # noqa: S608
            "WHERE p.customer_id = c.id AND p.kind = 'email') "
            f"FROM {importer_sql.STAGE_CUSTOMERS} s JOIN {importer_sql.CUSTOMERS} c "
            "ON c.workspace_id = %s AND c.external_id = s.external_id",
        ):
            cursor.execute(f"EXPLAIN {statement}", [workspace.pk])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        transaction.set_rollback(True)

    for plan in plans:
        # Every join probes an index on its inner side: no table is read once per row of the
        # other, whichever side the planner put outside.
        scans = [line.strip().removeprefix("->").strip() for line in plan.splitlines()]
        scans = [line for line in scans if " on " in line and "Scan" in line]
        assert "Materialize" not in plan, plan
        assert "Hash" not in plan, plan
        assert not [s for s in scans[1:] if s.startswith("Seq Scan")], plan
        assert any(s.startswith("Index Scan using customer_external_id_unique") for s in scans), (
            plan
        )
