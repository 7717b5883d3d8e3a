import datetime as dt
from decimal import Decimal

import factory

from ascolto.customers.models import Activity, Customer, Identity, Order
from tests.accounts.factories import WorkspaceFactory


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")
    external_id = factory.Sequence(lambda n: f"C{n:06d}")
    locale = "it"


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity

    customer = factory.SubFactory(CustomerFactory)
    workspace = factory.LazyAttribute(lambda o: o.customer.workspace)
    kind = "email"
    value = factory.Sequence(lambda n: f"person{n}@example.com")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    workspace = factory.LazyAttribute(lambda o: o.customer.workspace)
    external_id = factory.Sequence(lambda n: f"O{n:07d}")
    status = "delivered"
    placed_at = factory.Sequence(
        lambda n: dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n)
    )
    total = Decimal("49.90")
    currency = "EUR"


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    customer = factory.SubFactory(CustomerFactory)
    workspace = factory.LazyAttribute(lambda o: o.customer.workspace)
    kind = "note"
    title = factory.Sequence(lambda n: f"Note {n}")
