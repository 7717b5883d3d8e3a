"""`update_rows`: many rows' fields written by primary key in one statement, as saving each
row would write them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from ascolto.core.bulkupdate import update_rows
from ascolto.customers.models import Activity, Customer, Order
from ascolto.inbox.models import Conversation
from tests.core import strategies
from tests.customers.factories import ActivityFactory, CustomerFactory, OrderFactory
from tests.inbox.factories import InboxFactory

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 10, 25, 1, 30, 15, 123456, tzinfo=dt.UTC)


def _conversation() -> Conversation:
    customer = CustomerFactory()
    inbox = InboxFactory(workspace=customer.workspace)
    return Conversation.objects.create(
        workspace_id=inbox.workspace_id,
        inbox=inbox,
        channel=inbox.channel,
        customer=customer,
        subject="Where is my order?",
        last_message_at=WHEN,
        message_count=1,
    )


def test_each_row_gets_its_own_values_of_every_type() -> None:
    conversations = [_conversation() for _ in range(3)]
    for n, conversation in enumerate(conversations):
        conversation.status = Conversation.Status.PENDING if n else Conversation.Status.SNOOZED
        conversation.snoozed_until = None if n else WHEN
        conversation.waiting_since = WHEN + dt.timedelta(minutes=n)
        conversation.last_message_preview = f'it\'s "quoted", a\\b, tab\t, שלום {n}'
        conversation.message_count = 40 + n
    untouched = _conversation()
    update_rows(
        Conversation,
        conversations,
        ["status", "snoozed_until", "waiting_since", "last_message_preview", "message_count"],
    )
    for n, conversation in enumerate(conversations):
        stored = Conversation.objects.get(pk=conversation.pk)
        assert stored.status == ("pending" if n else "snoozed")
        assert stored.snoozed_until == (None if n else WHEN)
        assert stored.waiting_since == WHEN + dt.timedelta(minutes=n)
        assert stored.last_message_preview == f'it\'s "quoted", a\\b, tab\t, שלום {n}'
        assert stored.message_count == 40 + n
    assert Conversation.objects.get(pk=untouched.pk).message_count == untouched.message_count


def test_json_and_decimal_fields_are_written_as_saving_would() -> None:
    activities = [ActivityFactory() for _ in range(2)]
    activities[0].data = {"amount": 12.5, "list": [1, None, "x"], "nested": {"k": "it's"}}
    activities[1].data = {}
    update_rows(Activity, activities, ["data"])
    expected = ActivityFactory()
    expected.data = activities[0].data
    expected.save(update_fields=["data"])
    assert (
        Activity.objects.get(pk=activities[0].pk).data == Activity.objects.get(pk=expected.pk).data
    )
    assert Activity.objects.get(pk=activities[1].pk).data == {}

    orders = [OrderFactory(), OrderFactory()]
    orders[0].total = Decimal("1234.56")
    orders[1].total = Decimal("0.01")
    update_rows(Order, orders, ["total"])
    assert [Order.objects.get(pk=o.pk).total for o in orders] == [
        Decimal("1234.56"),
        Decimal("0.01"),
    ]


def test_only_if_newer_leaves_a_row_whose_stored_time_is_later() -> None:
    older, later, empty = CustomerFactory(), CustomerFactory(), CustomerFactory()
    Customer.objects.filter(pk=older.pk).update(last_activity_at=WHEN - dt.timedelta(days=1))
    Customer.objects.filter(pk=later.pk).update(last_activity_at=WHEN + dt.timedelta(days=1))
    Customer.objects.filter(pk=empty.pk).update(last_activity_at=None)
    update_rows(
        Customer,
        [Customer(pk=c.pk, last_activity_at=WHEN) for c in (older, later, empty)],
        ["last_activity_at"],
        only_if_newer="last_activity_at",
    )
    stored = dict(Customer.objects.values_list("pk", "last_activity_at"))
    assert stored[older.pk] == WHEN
    assert stored[later.pk] == WHEN + dt.timedelta(days=1)
    assert stored[empty.pk] == WHEN


class TestAnyText(TestCase):
    @hypothesis_settings(max_examples=30)
    @given(
        texts=st.lists(strategies.texts(max_size=200), min_size=1, max_size=5),
        data=strategies.json_objects(max_size=3),
    )
    def test_whatever_text_and_json_a_row_holds_is_stored_as_it_is(
        self, texts: list[str], data: dict[str, object]
    ) -> None:
        activities = [ActivityFactory() for _ in texts]
        for activity, text in zip(activities, texts, strict=True):
            activity.body = text
            activity.data = {**data, "text": text}
        update_rows(Activity, activities, ["body", "data"])
        stored = {
            a.pk: (a.body, a.data)
            for a in Activity.objects.filter(pk__in=[a.pk for a in activities])
        }
        assert [stored[a.pk] for a in activities] == [(a.body, a.data) for a in activities]
