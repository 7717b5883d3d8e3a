"""The intake worker completes a batch of accepted messages in one transaction: new and known
customers, repeats, a reopened conversation, a refused handle, a message with HTML left to the
one-message path; and on PostgreSQL, several workers draining one backlog store each message
once, with one customer per handle and one conversation per customer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ascolto.connectors.api_channel import intake
from ascolto.connectors.api_channel.models import InboundIntake
from ascolto.core.actors import Actor
from ascolto.customers import services as customer_services
from ascolto.customers.models import Customer, Identity
from ascolto.customers.services import Handle
from ascolto.inbox.models import Conversation, Message
from tests.concurrency import run_at_once
from tests.connectors.api_channel.conftest import ingest_body


def accept(channel: Any, provider_id: str, who: str, **extra: Any) -> InboundIntake:
    """A row as the fast path leaves it (the message id is then the worker's own)."""
    customer = {"kind": "email", "value": f"{who}@example.com", "name": who.title()}
    return InboundIntake.objects.create(
        workspace_id=channel.inbox.workspace_id,
        inbox=channel.inbox,
        provider_id=provider_id,
        payload=ingest_body(provider_id, customer=customer, **extra),
        received_at=timezone.now(),
    )


@pytest.mark.django_db(transaction=True)
def test_a_batch_of_new_known_repeated_reopened_refused_and_html_messages(channel):
    inbox = channel.inbox
    accept(channel, "first", "ada")
    assert intake.intake_drain() == 1
    ada = Customer.objects.get()
    Conversation.objects.filter(customer=ada).update(
        status=Conversation.Status.RESOLVED, resolved_at=timezone.now() - dt.timedelta(hours=1)
    )
    old = Message.objects.create(  # stored before the intake ledger existed: no row for it
        workspace_id=inbox.workspace_id,
        inbox=inbox,
        conversation=Conversation.objects.get(customer=ada),
        kind=Message.Kind.INBOUND,
        author_customer=ada,
        text="from before",
        provider_id="legacy",
    )
    accept(channel, "a-2", "ada")
    accept(channel, "b-1", "bea")
    accept(channel, "b-2", "bea")
    accept(channel, "legacy", "ada")
    bad = accept(channel, "bad", "x")
    bad.payload = {**bad.payload, "customer": {"kind": "phone", "value": "not a phone"}}
    bad.save()
    accept(channel, "html", "cy", html="<p>Hi <script>x()</script><b>there</b></p>", text="")

    assert intake.intake_drain() == 6

    rows = {row.provider_id: row for row in InboundIntake.objects.all()}
    assert all(row.processed_at is not None for row in rows.values())
    assert {row.attempts for row in rows.values()} == {1}
    assert rows["legacy"].message_id == old.pk
    assert rows["bad"].message_id is None
    assert rows["bad"].last_error
    reopened = Conversation.objects.get(pk=rows["a-2"].conversation_id)
    assert reopened.customer_id == ada.pk
    assert reopened.status == Conversation.Status.OPEN
    assert reopened.reopen_count == 1
    assert rows["b-1"].conversation_created
    assert not rows["b-2"].conversation_created
    assert rows["b-1"].conversation_id == rows["b-2"].conversation_id
    for name in ("a-2", "b-1", "b-2", "html"):
        message = Message.objects.get(pk=rows[name].message_id)
        assert message.provider_id == name
        assert message.conversation_id == rows[name].conversation_id
        assert message.author_customer_id == rows[name].customer_id
    assert "script" not in Message.objects.get(provider_id="html").html
    assert sorted(Identity.objects.values_list("value", flat=True)) == [
        "ada@example.com",
        "bea@example.com",
        "cy@example.com",
    ]
    assert Message.objects.filter(inbox=inbox).count() == 6  # first, legacy, a-2, b-1, b-2, html
    assert intake.intake_drain() == 0


# --- Several workers at once (PostgreSQL) ----------------------------------------------------


@pytest.fixture
def pg() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs the test database on PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_draining_one_backlog_store_each_message_once(pg, channel):
    known = [f"known{n}" for n in range(4)]
    for n, who in enumerate(known):
        accept(channel, f"warm-{n}", who)
    intake.intake_drain()
    people = known + [f"new{n}" for n in range(8)]
    for n in range(120):
        accept(channel, f"m-{n}", people[n % len(people)])

    done = run_at_once(lambda: intake.intake_drain(batch=7), workers=4, timeout=120)

    assert sum(done) == 120
    assert not InboundIntake.objects.filter(processed_at__isnull=True).exists()
    stored = Message.objects.filter(inbox=channel.inbox)
    assert stored.count() == 124
    assert not stored.values("provider_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    for row in InboundIntake.objects.all():
        assert Message.objects.get(pk=row.message_id).provider_id == row.provider_id
    assert Customer.objects.count() == len(people)
    assert Identity.objects.count() == len(people)
    per_customer = Conversation.objects.values("customer").annotate(n=Count("id"))
    assert {row["n"] for row in per_customer} == {1}
    for conversation in Conversation.objects.all():
        assert conversation.message_count == conversation.messages.count()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_creating_the_same_customers_make_one_each(pg, workspace):
    handles = [Handle("email", f"c{n}@example.com", f"C {n}") for n in range(30)]

    def resolve() -> tuple[list[int], set[int]]:
        from django.db import transaction

        with transaction.atomic():
            found = customer_services.customers_by_handles(
                workspace=workspace, handles=handles, actor=Actor.system("test")
            )
        return [c.pk for c in found.customers if isinstance(c, Customer)], found.created

    results = run_at_once(resolve, workers=3, timeout=120)

    assert len({tuple(ids) for ids, _ in results}) == 1  # every worker saw the same customers
    created = [pk for _, made in results for pk in made]
    assert len(created) == len(set(created)) == 30
    assert Customer.objects.count() == 30
    assert Identity.objects.count() == 30


def test_the_sweeper_stores_one_turn_and_queues_the_job_for_the_rest(channel, monkeypatch):
    from ascolto.connectors.api_channel import tasks

    monkeypatch.setattr(intake, "BATCH", 2)
    monkeypatch.setattr(tasks, "INTAKE_TURN", 2)
    woken: list[bool] = []
    monkeypatch.setattr(intake, "wake_worker", lambda: woken.append(True))
    for n in range(7):
        accept(channel, f"m-{n}", f"customer{n}")

    assert tasks.sweep_intake.call_local() == 4
    assert woken == [True]
    assert InboundIntake.objects.filter(processed_at__isnull=True).count() == 3
    assert tasks.process_intake.call_local() == 3  # the job queued: the rest, and no more
    assert woken == [True]
    assert not InboundIntake.objects.filter(processed_at__isnull=True).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_storing_and_handling_a_batch_costs_no_query_per_message(pg, channel):
    """Known customers write again: storing their messages and running the handlers that
    follow (triage, routing, SLA, surveys, automatic replies) costs as many statements for
    eight messages as for two, so no field of a customer, message or conversation is read
    back one row at a time. (PostgreSQL: on SQLite the search texts are written per message.)"""
    names = [f"c{i}" for i in range(8)]
    for name in names:
        accept(channel, f"{name}-0", name)
    assert intake.intake_drain() == len(names)

    def statements(count: int, turn: int) -> list[str]:
        for name in names[:count]:
            accept(channel, f"{name}-{turn}", name)
        with CaptureQueriesContext(connection) as queries:
            assert intake.intake_drain() == count
        assert Message.objects.filter(provider_id__endswith=f"-{turn}").count() == count
        return [query["sql"] for query in queries.captured_queries]

    two, eight = statements(2, 1), statements(8, 2)
    assert len(eight) == len(two), "\n".join(eight)


@contextmanager
def held_by_another_batch(channel: Any, customer: Customer) -> Iterator[None]:
    """Another transaction threads this customer in the channel's inbox (batch.py's claim),
    until the block ends and that transaction commits."""
    import psycopg

    from ascolto.inbox.services.batch import INT4

    other = psycopg.connect(**connection.get_connection_params())
    try:
        other.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)",
            [channel.inbox.pk & INT4, customer.pk & INT4],
        )
        yield
    finally:
        other.rollback()
        other.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_customer_held_by_another_batch_waits_for_the_next_batch(pg, channel, monkeypatch):
    """A customer another worker's batch is threading: their message stays pending for this
    worker's next batch rather than taking the one-message path (several times the cost),
    unless the batch stored nothing else, when it goes that way at once."""
    accept(channel, "a-0", "ada")
    assert intake.intake_drain() == 1
    ada = Customer.objects.get()
    one_by_one: list[int] = []
    complete_one = intake._complete_one
    monkeypatch.setattr(
        intake, "_complete_one", lambda row_id: one_by_one.append(row_id) or complete_one(row_id)
    )
    with held_by_another_batch(channel, ada):
        held = accept(channel, "a-1", "ada")
        accept(channel, "b-1", "bea")

        assert intake.intake_process(held_later=True) == 1
        held.refresh_from_db()
        assert held.processed_at is None
        assert one_by_one == []

    assert intake.intake_process(held_later=True) == 1
    held.refresh_from_db()
    assert held.processed_at is not None
    assert Message.objects.get(pk=held.message_id).author_customer_id == ada.pk
    assert one_by_one == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_of_held_customers_only_takes_the_one_message_path(pg, channel):
    accept(channel, "a-0", "ada")
    assert intake.intake_drain() == 1
    with held_by_another_batch(channel, Customer.objects.get()):
        accept(channel, "a-1", "ada")
        assert intake.intake_process(held_later=True) == 1  # nothing else to store: no wait
    assert not InboundIntake.objects.filter(processed_at__isnull=True).exists()
