"""Inbound classifiers: other apps tell the inbox, before a customer's message is stored, that
it is not a support request (a survey answered by reply, say).

Such a message carries `metadata["not_a_request"]` (a short reason, e.g. "survey_answer") and
the "inbox.message.received" payload says so too. The inbox then stores it in the customer's
latest conversation without opening, reopening or routing anything, and the handlers that
react to requests (routing, SLA, the assistant, automatic replies) leave it alone. Deciding at
receive time, not in an outbox handler, is what makes this hold whatever order the handlers of
the event run in.

An app registers in its AppConfig.ready; a classifier must be a cheap read (it runs inside the
receiving transaction) and return the metadata to add, or an empty dict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ascolto.customers.models import Customer
from ascolto.inbox.models import Inbox, Message

NOT_A_REQUEST = "not_a_request"
Classifier = Callable[[Inbox, Customer, str, dt.datetime], dict[str, Any]]
_classifiers: list[Classifier] = []


def register_classifier(classifier: Classifier) -> None:
    if classifier not in _classifiers:
        _classifiers.append(classifier)


def classify(inbox: Inbox, customer: Customer, text: str, when: dt.datetime) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for classifier in _classifiers:
        found.update(classifier(inbox, customer, text, when))
    return found


def is_not_a_request(message: Message) -> bool:
    return isinstance(message.metadata, dict) and bool(message.metadata.get(NOT_A_REQUEST))
