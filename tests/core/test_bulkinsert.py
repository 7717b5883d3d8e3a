"""`insert_rows`: new rows sent with COPY on PostgreSQL, bulk_create elsewhere, same result."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from ascolto.core.bulkinsert import insert_rows
from ascolto.customers.models import Activity, Customer
from ascolto.inbox.models import Conversation, ConversationEvent
from tests.accounts.factories import WorkspaceFactory
from tests.core import strategies
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=dt.UTC)


def _columns(activity: Activity) -> tuple[object, ...]:
    return (
        activity.workspace_id,
        activity.customer_id,
        activity.kind,
        activity.occurred_at,
        activity.title,
        activity.body,
        activity.data,
        activity.source_type,
        activity.source_id,
    )


def _activities(customer: Customer, count: int, body: str = "") -> list[Activity]:
    return [
        Activity(
            workspace_id=customer.workspace_id,
            customer=customer,
            kind=Activity.Kind.MESSAGE,
            title=f"Message {n}",
            body=body,
            data={"n": n, "nested": {"list": [1, "two", None]}, "text": body},
            occurred_at=WHEN + dt.timedelta(seconds=n),
            source_type="message",
            source_id=str(n),
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [1, 7, 8, 50])
def test_rows_are_stored_as_given_with_their_ids_in_order(count: int) -> None:
    customer = CustomerFactory()
    rows = _activities(customer, count, body="tab\there, new\nline, back\\slash, «שלום»")
    returned = insert_rows(Activity, rows)
    assert returned == rows
    ids = [row.pk for row in rows]
    assert None not in ids
    assert ids == sorted(ids)
    assert len(set(ids)) == count
    assert all(not row._state.adding for row in rows)
    stored = {a.pk: a for a in Activity.objects.filter(pk__in=ids)}
    assert [_columns(stored[row.pk]) for row in rows] == [_columns(row) for row in rows]
    # The choice is stored as its value, not as the enum member's name.
    assert set(Activity.objects.filter(pk__in=ids).values_list("kind", flat=True)) == {"message"}


def test_a_related_row_saved_after_it_was_assigned_lends_its_new_id() -> None:
    customer = CustomerFactory()
    inbox_conversation = Conversation(
        workspace_id=customer.workspace_id,
        customer=customer,
        channel="api",
        subject="Where is my order?",
        last_message_at=WHEN,
    )
    # The events reference the conversation before it has an id, as the intake batch does.
    events = [
        ConversationEvent(
            workspace_id=customer.workspace_id,
            conversation=inbox_conversation,
            kind=ConversationEvent.Kind.CREATED,
            to_value="open",
        )
        for _ in range(10)
    ]
    inbox_conversation.inbox = InboxFactory(workspace=customer.workspace)
    insert_rows(Conversation, [inbox_conversation])
    insert_rows(ConversationEvent, events)
    assert inbox_conversation.pk is not None
    assert (
        list(
            ConversationEvent.objects.filter(pk__in=[e.pk for e in events]).values_list(
                "conversation_id", flat=True
            )
        )
        == [inbox_conversation.pk] * 10
    )


def test_rows_whose_ids_are_reserved_keep_them_beside_rows_given_new_ones() -> None:
    customer = CustomerFactory()
    rows = _activities(customer, 12)
    reserved = Activity.objects.create(**_fields(rows[0])).pk
    Activity.objects.filter(pk=reserved).delete()
    rows[3].pk = reserved
    insert_rows(Activity, rows)
    assert rows[3].pk == reserved
    assert Activity.objects.filter(pk__in=[r.pk for r in rows]).count() == 12
    # The new ids never collide with a later single insert.
    later = Activity.objects.create(**_fields(_activities(customer, 1)[0]))
    assert later.pk not in {r.pk for r in rows}


def test_a_row_that_breaks_a_constraint_raises_and_the_batch_is_not_stored() -> None:
    customer = CustomerFactory()
    rows = _activities(customer, 10)
    rows[6].title = None  # type: ignore[assignment]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Activity, rows)
    assert not Activity.objects.filter(customer=customer).exists()
    assert all(row.pk is None for row in rows)  # unsaved, so they can be inserted again
    insert_rows(Activity, _activities(customer, 10))  # the connection is usable afterwards
    assert Activity.objects.filter(customer=customer).count() == 10


def _fields(row: Activity) -> dict[str, object]:
    return {
        "workspace_id": row.workspace_id,
        "customer": row.customer,
        "kind": row.kind,
        "title": row.title,
        "occurred_at": row.occurred_at,
    }


class TestSameRowsAsBulkCreate(TestCase):
    """Whatever text and JSON a row holds, COPY stores what bulk_create stores."""

    @hypothesis_settings(max_examples=40)
    @given(
        texts=st.lists(strategies.texts(), min_size=8, max_size=12),
        data=strategies.json_objects(max_size=4),
    )
    def test_copy_and_bulk_create_store_the_same_values(
        self, texts: list[str], data: dict[str, object]
    ) -> None:
        workspace = WorkspaceFactory()
        customer = CustomerFactory(workspace=workspace)

        def rows() -> list[Activity]:
            return [
                Activity(
                    workspace=workspace,
                    customer=customer,
                    kind=Activity.Kind.NOTE,
                    title=text[:300],
                    body=text,
                    data={**data, "text": text},
                    occurred_at=WHEN,
                    source_id=str(n),
                )
                for n, text in enumerate(texts)
            ]

        copied = insert_rows(Activity, rows())
        created = Activity.objects.bulk_create(rows())
        stored = {a.pk: _columns(a) for a in Activity.objects.filter(customer=customer)}
        assert [stored[a.pk] for a in copied] == [stored[a.pk] for a in created]
        assert [stored[a.pk] for a in copied] == [_columns(a) for a in rows()]
