"""Import of customers and orders from CSV and JSON Lines, run as a Job."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
from decimal import Decimal
from pathlib import Path

import pytest

from ascolto.core.actors import Actor
from ascolto.core.models import AuditLogEntry, Job, OutboxEvent
from ascolto.customers import importer
from ascolto.customers.models import (
    Activity,
    AttributeDefinition,
    Customer,
    Identity,
    Order,
    OrderLine,
)
from tests.customers.factories import CustomerFactory, IdentityFactory, OrderFactory

CUSTOMERS_CSV = """\
external_id,name,email,phone,whatsapp,locale,timezone,birthday,value_tier,attr.loyalty_member
C1,Giulia Rossi,Giulia.Rossi@Example.com,+39 347 123 4567,+39 347 123 4567,it,Europe/Rome,\
1990-02-03,gold,true
C2,דנה לוי,dana@example.com,+972 50-123-4567,,he,Asia/Jerusalem,,,
C3,Bad Email,not-an-email,,,en,,,,
C4,Taken Email,owner@example.com,,,en,,,,
C5,Bad Date,,,,en,,1990-13-45,,
C6,Unknown Attr,,,,en,,,,maybe
C7,"Smith, John",john@example.com,,,en,Europe/London,,,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(workspace, kind: str, path: Path, fmt: str | None = None, user=None) -> Job:  # type: ignore[no-untyped-def]
    job = importer.import_job_create(
        workspace=workspace,
        kind=kind,  # type: ignore[arg-type]
        path=path,
        fmt=importer.detect_format(path, fmt),
        created_by_id=user.pk if user else None,
    )
    return importer.run_import_job(job.pk)


def error_rows(job: Job) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    for error in job.result["errors"]:
        found.setdefault(error["row"], []).append((error["field"], error["message"]))
    return found


@pytest.fixture
def loyalty(workspace):  # type: ignore[no-untyped-def]
    return AttributeDefinition.objects.create(
        workspace=workspace, key="loyalty_member", label="Loyalty member", type="boolean"
    )


@pytest.fixture
def owner(workspace):  # type: ignore[no-untyped-def]
    customer = CustomerFactory(workspace=workspace, external_id="OWNER")
    IdentityFactory(customer=customer, workspace=workspace, kind="email", value="owner@example.com")
    return customer


def test_customer_csv_writes_good_rows_and_reports_bad_ones(
    tmp_path, workspace, loyalty, owner, agent
):
    job = run(workspace, "customers", write(tmp_path, "c.csv", CUSTOMERS_CSV), user=agent)

    assert job.status == Job.Status.SUCCEEDED
    assert job.result["created"] == 3
    assert job.result["failed_rows"] == 4
    giulia = Customer.objects.get(workspace=workspace, external_id="C1")
    assert giulia.name == "Giulia Rossi"
    assert giulia.birthday == dt.date(1990, 2, 3)
    assert giulia.value_tier == "gold"
    assert giulia.attributes == {"loyalty_member": True}
    assert sorted(giulia.identities.values_list("kind", "value", "is_primary")) == [
        ("email", "giulia.rossi@example.com", True),
        ("phone", "+393471234567", True),
        ("whatsapp", "+393471234567", True),
    ]
    assert Customer.objects.get(workspace=workspace, external_id="C7").name == "Smith, John"
    assert Customer.objects.get(workspace=workspace, external_id="C2").name == "דנה לוי"
    # Rows are numbered by their line in the file; the header is line 1.
    errors = error_rows(job)
    assert set(errors) == {4, 5, 6, 7}
    assert errors[4][0][0] == "email"
    assert "not an email address" in errors[4][0][1]
    assert errors[5][0][0] == "email"
    assert f"customer #{owner.pk}" in errors[5][0][1]
    assert errors[6][0][0] == "birthday"
    assert errors[7][0][0] == "attributes.loyalty_member"
    # Nothing of a failed row is written.
    assert not Customer.objects.filter(
        workspace=workspace, external_id__in=["C3", "C4", "C5", "C6"]
    )
    assert owner.identities.count() == 1


def test_error_file_lists_row_field_and_message(tmp_path, workspace, loyalty, owner):
    job = run(workspace, "customers", write(tmp_path, "c.csv", CUSTOMERS_CSV))

    with open(job.result["error_file"], encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found = sorted((int(r["row"]), r["external_id"], r["field"]) for r in rows)
    assert found == [
        (4, "C3", "email"),
        (5, "C4", "email"),
        (6, "C5", "birthday"),
        (7, "C6", "attributes.loyalty_member"),
    ]
    assert all(r["message"] for r in rows)


def test_reimport_updates_and_never_duplicates(tmp_path, workspace, loyalty, owner):
    path = write(tmp_path, "c.csv", CUSTOMERS_CSV)
    run(workspace, "customers", path)
    counts = (
        Customer.objects.filter(workspace=workspace).count(),
        Identity.objects.filter(workspace=workspace).count(),
        Activity.objects.filter(workspace=workspace).count(),
    )

    again = run(workspace, "customers", path)

    assert again.result["created"] == 0
    assert again.result["updated"] == 0
    assert again.result["unchanged"] == 3
    assert counts == (
        Customer.objects.filter(workspace=workspace).count(),
        Identity.objects.filter(workspace=workspace).count(),
        Activity.objects.filter(workspace=workspace).count(),
    )

    changed = write(
        tmp_path,
        "c2.jsonl",
        json.dumps(
            {"external_id": "C1", "name": "Giulia Bianchi", "attributes": {"loyalty_member": False}}
        )
        + "\n",
    )
    third = run(workspace, "customers", changed)
    assert third.result["updated"] == 1
    giulia = Customer.objects.get(workspace=workspace, external_id="C1")
    # Fields not given keep their value.
    assert (giulia.name, giulia.locale, giulia.value_tier) == ("Giulia Bianchi", "it", "gold")
    assert giulia.attributes == {"loyalty_member": False}


def test_jsonl_customers_with_bad_lines(tmp_path, workspace):
    lines = [
        json.dumps(
            {
                "external_id": "J1",
                "name": "Noa Cohen",
                "email": "noa@example.co.il",
                "identities": {"web": "visitor-123"},
            }
        ),
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"external_id": "J2", "nmae": "Typo"}),
        "",
        json.dumps({"external_id": "J3", "timezone": "Mars/Olympus"}),
    ]
    job = run(workspace, "customers", write(tmp_path, "c.jsonl", "\n".join(lines) + "\n"))

    assert job.result["created"] == 1
    assert set(error_rows(job)) == {2, 3, 4, 6}
    assert error_rows(job)[4][0][0] == "nmae"
    noa = Customer.objects.get(workspace=workspace, external_id="J1")
    assert set(noa.identities.values_list("kind", "value")) == {
        ("email", "noa@example.co.il"),
        ("web", "visitor-123"),
    }
    assert Activity.objects.filter(customer=noa, kind="customer.created").count() == 1


def test_same_email_twice_in_one_file_keeps_the_first(tmp_path, workspace):
    text = "external_id,email\nA,same@example.com\nB,SAME@example.com\nA,same@example.com\n"
    job = run(workspace, "customers", write(tmp_path, "c.csv", text))

    assert job.result["created"] == 1
    assert job.result["unchanged"] == 1
    assert list(error_rows(job)) == [3]
    assert (
        Identity.objects.get(workspace=workspace, value="same@example.com").customer.external_id
        == "A"
    )


def test_unknown_column_fails_the_job_before_writing(tmp_path, workspace):
    job = run(workspace, "customers", write(tmp_path, "c.csv", "external_id,emial\nX,a@b.c\n"))

    assert job.status == Job.Status.FAILED
    assert "emial" in job.error
    assert not Customer.objects.filter(workspace=workspace).exists()


ORDER_HEADER = "external_id,customer_external_id,placed_at,total,currency\n"
ORDERS_CSV = """\
external_id,customer_external_id,status,placed_at,delivered_at,total,currency,lines
O1,K1,delivered,2026-01-10T10:00:00+01:00,2026-01-12T09:00:00Z,100.00,EUR,
O2,K1,cancelled,2026-02-10T10:00:00Z,,50.00,EUR,
O3,K2,shipped,2026-03-01T08:30:00Z,,25.50,eur,"[{""sku"": ""MOKA-3"", ""name"": ""Moka pot"", \
""quantity"": 1, ""unit_price"": ""25.50""}]"
O4,NOBODY,delivered,2026-03-01T08:30:00Z,,10.00,EUR,
O5,K2,delivered,yesterday,,10.00,EUR,
O6,K2,delivered,2026-03-01T08:30:00Z,,ten euros,EUR,
O7,K2,delivered,2026-03-01T08:30:00,,10.00,EUR,
O8,K2,delivered,2026-03-01T08:30:00Z,,-5,EUR,
"""


def test_order_csv_upserts_orders_and_refreshes_stats(tmp_path, workspace, agent):
    k1 = CustomerFactory(workspace=workspace, external_id="K1")
    k2 = CustomerFactory(workspace=workspace, external_id="K2")

    job = run(workspace, "orders", write(tmp_path, "o.csv", ORDERS_CSV), user=agent)

    assert job.status == Job.Status.SUCCEEDED
    assert job.result["created"] == 3
    errors = error_rows(job)
    assert set(errors) == {5, 6, 7, 8, 9}
    assert errors[5] == [("customer_external_id", "No customer with external id 'NOBODY'.")]
    assert errors[6][0][0] == "placed_at"
    assert errors[7][0][0] == "total"
    assert errors[8][0][0] == "placed_at"
    assert errors[9][0][0] == "total"
    k1.refresh_from_db()
    k2.refresh_from_db()
    # Cancelled orders do not count towards spend.
    assert (k1.lifetime_spend, k1.orders_count) == (Decimal("100.00"), 2)
    assert k1.last_order_at == dt.datetime(2026, 2, 10, 10, tzinfo=dt.UTC)
    assert (k2.lifetime_spend, k2.orders_count) == (Decimal("25.50"), 1)
    o3 = Order.objects.get(workspace=workspace, external_id="O3")
    assert o3.currency == "EUR"
    assert list(o3.lines.values_list("sku", "quantity", "unit_price")) == [
        ("MOKA-3", Decimal("1.000"), Decimal("25.50"))
    ]
    o1 = Order.objects.get(workspace=workspace, external_id="O1")
    assert o1.placed_at == dt.datetime(2026, 1, 10, 9, tzinfo=dt.UTC)
    assert o1.delivered_at == dt.datetime(2026, 1, 12, 9, tzinfo=dt.UTC)


def test_order_reimport_updates_status_moves_orders_and_keeps_lines(tmp_path, workspace):
    k1 = CustomerFactory(workspace=workspace, external_id="K1")
    k2 = CustomerFactory(workspace=workspace, external_id="K2")
    run(workspace, "orders", write(tmp_path, "o.csv", ORDERS_CSV))
    before = Order.objects.filter(workspace=workspace).count()

    same = run(workspace, "orders", write(tmp_path, "o.csv", ORDERS_CSV))
    assert same.result["unchanged"] == 3
    assert Order.objects.filter(workspace=workspace).count() == before

    update = (
        "external_id,customer_external_id,status,placed_at,total,currency\n"
        "O1,K2,returned,2026-01-10T10:00:00+01:00,100.00,EUR\n"
        "O3,K2,delivered,2026-03-01T08:30:00Z,25.50,EUR\n"
    )
    job = run(workspace, "orders", write(tmp_path, "u.csv", update))

    assert job.result["updated"] == 2
    assert Order.objects.filter(workspace=workspace).count() == before
    assert OrderLine.objects.filter(order__external_id="O3").count() == 1
    k1.refresh_from_db()
    k2.refresh_from_db()
    assert (k1.lifetime_spend, k1.orders_count) == (Decimal("0.00"), 1)
    assert (k2.lifetime_spend, k2.orders_count) == (Decimal("25.50"), 2)
    titles = set(
        Activity.objects.filter(workspace=workspace, kind="order.updated").values_list(
            "title", flat=True
        )
    )
    assert titles == {"Order O1: delivered → returned", "Order O3: shipped → delivered"}


def test_orders_of_a_merged_profile_go_to_the_primary(tmp_path, workspace):
    primary = CustomerFactory(workspace=workspace, external_id="P")
    CustomerFactory(workspace=workspace, external_id="M", merged_into=primary)
    text = ORDER_HEADER + "X1,M,2026-01-01T00:00:00Z,9.99,EUR\n"

    run(workspace, "orders", write(tmp_path, "o.csv", text))

    assert Order.objects.get(workspace=workspace, external_id="X1").customer == primary


def test_import_records_one_audit_entry_and_one_event(tmp_path, workspace, loyalty, owner, agent):
    audit_before = AuditLogEntry.objects.filter(workspace=workspace).count()
    events_before = OutboxEvent.objects.filter(workspace=workspace).count()

    job = run(workspace, "customers", write(tmp_path, "c.csv", CUSTOMERS_CSV), user=agent)

    entries = AuditLogEntry.objects.filter(workspace=workspace)
    assert entries.count() == audit_before + 1
    entry = entries.order_by("-id").first()
    assert entry is not None
    assert (entry.action, entry.object_id, entry.actor_user) == (
        "customers.import",
        str(job.pk),
        agent,
    )
    assert entry.changes["created"] == 3
    events = OutboxEvent.objects.filter(workspace=workspace)
    assert events.count() == events_before + 1
    assert events.order_by("-id")[0].name == "customers.import.completed"


def test_job_progress_reaches_the_row_count(tmp_path, workspace):
    rows = "".join(f"R{i},Person {i}\n" for i in range(25))
    path = write(tmp_path, "c.csv", "external_id,name\n" + rows)
    seen: list[tuple[int, int]] = []
    job = importer.import_job_create(workspace=workspace, kind="customers", path=path, fmt="csv")

    job = importer.run_import_job(job.pk, progress=lambda done, total: seen.append((done, total)))

    assert job.status == Job.Status.SUCCEEDED
    assert (job.progress_done, job.progress_total, job.percent) == (25, 25, 100)
    assert seen[-1] == (25, 25)
    assert job.started_at is not None
    assert job.finished_at is not None


def test_small_batches_give_the_same_result(tmp_path, workspace):
    rows = "".join(f"R{i},p{i % 7}@example.com\n" for i in range(40))
    path = write(tmp_path, "c.csv", "external_id,email\n" + rows)
    result = importer.import_file(
        workspace=workspace,
        kind="customers",
        path=path,
        fmt="csv",
        actor=Actor.system(),
        batch_size=4,
    )
    # Only the first customer to claim each address gets it; the other rows fail whole.
    assert (result.created, result.failed_rows) == (7, 33)
    assert Customer.objects.filter(workspace=workspace).count() == 7


def test_an_order_already_placed_keeps_its_customer_stats_right(tmp_path, workspace):
    customer = CustomerFactory(workspace=workspace, external_id="K")
    OrderFactory(customer=customer, workspace=workspace, external_id="OLD", total=Decimal("10.00"))
    text = ORDER_HEADER + "NEW,K,2026-01-01T00:00:00Z,5.00,EUR\n"

    run(workspace, "orders", write(tmp_path, "o.csv", text))

    customer.refresh_from_db()
    assert (customer.lifetime_spend, customer.orders_count) == (Decimal("15.00"), 2)


def test_a_failed_write_with_validation_workers_fails_the_job_and_returns(
    tmp_path, workspace, monkeypatch
):
    """Validation runs ahead in a worker process; when a write fails, the import stops the
    feeding of that process and the job fails with the cause, instead of waiting forever."""
    rows = "".join(f"W{i},w{i}@example.com\n" for i in range(200))
    path = write(tmp_path, "c.csv", "external_id,email\n" + rows)
    monkeypatch.setattr(
        importer, "read_chunks", functools.partial(importer.read_chunks, chunk_rows=10)
    )
    monkeypatch.setattr(importer, "BATCH_SIZE", 20)
    monkeypatch.setattr(importer, "SQLITE_BATCH_SIZE", 20)
    calls = []

    def failing(self, records):  # type: ignore[no-untyped-def]
        calls.append(len(records))
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer.SqlWriter, "customers", failing)
    job = importer.import_job_create(workspace=workspace, kind="customers", path=path, fmt="csv")

    job = importer.run_import_job(job.pk, workers=1, writers=1)

    assert job.status == "failed"
    assert "disk full" in job.error
    assert calls == [20]
