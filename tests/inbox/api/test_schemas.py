"""The API's choice types follow the models' choices."""

from __future__ import annotations

from typing import get_args

from ascolto.connectors.api_channel import schemas as channel_schemas
from ascolto.customers.models import Identity
from ascolto.inbox import api_schemas, selectors
from ascolto.inbox.models import Channel, Conversation, Inbox, Message


def test_choices_match_the_models():
    assert set(get_args(api_schemas.ChannelChoice)) == set(Channel.values)
    assert set(get_args(api_schemas.RoutingChoice)) == set(Inbox.Routing.values)
    assert set(get_args(api_schemas.StatusChoice)) == set(Conversation.Status.values)
    assert set(get_args(api_schemas.StatusFilter)) == {*Conversation.Status.values, "active", "any"}
    assert set(get_args(api_schemas.ViewChoice)) == set(selectors.VIEWS)
    assert set(api_schemas.PRIORITY_VALUES.values()) == set(Conversation.Priority.values)
    assert set(get_args(api_schemas.PriorityName)) == set(api_schemas.PRIORITY_VALUES)
    assert set(get_args(channel_schemas.IdentityKind)) == set(Identity.Kind.values)
    assert set(get_args(channel_schemas.RoutingChoice)) == set(Inbox.Routing.values)
    assert set(get_args(channel_schemas.DeliveryStatus)) < set(Message.Delivery.values)
