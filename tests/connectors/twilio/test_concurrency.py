"""Provider retries that arrive at the same moment (PostgreSQL): one message, one customer.

Runs only where the test database is PostgreSQL (DATABASE_URL=postgres://...); SQLite
serialises writers anyway.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from ascolto.customers.models import Customer, Identity
from ascolto.inbox.models import Conversation, Message
from tests.connectors.twilio.conftest import post_signed, sms_form

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
WORKERS = 6


def test_simultaneous_whatsapp_retries_store_one_message(whatsapp):
    if connection.vendor != "postgresql":
        pytest.skip("needs the test database on PostgreSQL (DATABASE_URL=postgres://...)")
    start = threading.Barrier(WORKERS)
    statuses: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    form = sms_form(sid="SMrace", sender="whatsapp:+393331234567")
    path = f"/connectors/twilio/{whatsapp.pk}/inbound"

    def deliver() -> None:
        try:
            start.wait(10)
            # The same message from a number nobody has yet: the customer, the whatsapp
            # identity and the message are all raced for at once.
            response = post_signed(Client(), path, form)
            with lock:
                statuses.append(response.status_code)
        except BaseException as exc:
            with lock:
                failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert failures == []
    assert statuses == [200] * WORKERS
    assert Message.objects.filter(provider_id="SMrace").count() == 1
    assert Customer.objects.count() == 1
    assert Identity.objects.filter(kind="whatsapp").count() == 1
    assert Conversation.objects.count() == 1
