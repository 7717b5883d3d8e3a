"""Inbox API fixtures: the API's URLs, token clients (shared with tests/api), an inbox with a
conversation started by a customer."""

from __future__ import annotations

from typing import Any

import pytest

from ascolto.inbox import services
from ascolto.inbox.models import Conversation
from tests.api.conftest import (  # noqa: F401 (the API fixtures, shared with tests/api)
    ApiClient,
    _fast_password_hashing,
    api,
    make_token,
    member,
    other_api,
)
from tests.customers.factories import CustomerFactory, IdentityFactory
from tests.inbox.factories import InboxFactory

pytestmark = pytest.mark.urls("tests.inbox.api.urls")


@pytest.fixture(autouse=True)
def _inbox_api_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.inbox.api.urls"


@pytest.fixture
def admin_api(admin_user: Any, workspace: Any, make_token: Any) -> ApiClient:  # noqa: F811
    return ApiClient(make_token(admin_user, workspace))


@pytest.fixture
def inbox(workspace: Any) -> Any:
    return InboxFactory(workspace=workspace, name="Shop chat", channel="webchat")


@pytest.fixture
def customer(workspace: Any) -> Any:
    customer = CustomerFactory(workspace=workspace, name="Dana Levi", value_tier="gold")
    IdentityFactory(customer=customer, value="dana@example.com")
    return customer


def start_conversation(
    inbox: Any, customer: Any, text: str = "Where is my order?", **kwargs: Any
) -> Conversation:
    return services.message_receive(
        inbox=inbox, customer=customer, text=text, **kwargs
    ).conversation


@pytest.fixture
def conversation(inbox: Any, customer: Any) -> Conversation:
    return start_conversation(inbox, customer, provider_id="m-1")
