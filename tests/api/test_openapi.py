"""The OpenAPI document and the interactive docs, and the schema's choices match the models."""

from __future__ import annotations

from typing import get_args

import pytest
from django.test import Client

from ascolto.customers import api_schemas
from ascolto.customers.models import (
    ConsentChannel,
    ConsentPurpose,
    Identity,
    Order,
    ValueTier,
)

OPERATIONS = {
    ("get", "/api/v1/customers"),
    ("post", "/api/v1/customers"),
    ("get", "/api/v1/customers/{customer_id}"),
    ("get", "/api/v1/customers/{customer_id}/recommendations"),
    ("patch", "/api/v1/customers/{customer_id}"),
    ("post", "/api/v1/customers/bulk"),
    ("post", "/api/v1/customers/{customer_id}/merge"),
    ("get", "/api/v1/customers/{customer_id}/merges"),
    ("get", "/api/v1/customers/{customer_id}/timeline"),
    ("get", "/api/v1/customers/{customer_id}/audit"),
    ("get", "/api/v1/customers/{customer_id}/identities"),
    ("post", "/api/v1/customers/{customer_id}/identities"),
    ("delete", "/api/v1/customers/{customer_id}/identities/{identity_id}"),
    ("get", "/api/v1/customers/{customer_id}/orders"),
    ("get", "/api/v1/customers/{customer_id}/consents"),
    ("post", "/api/v1/customers/{customer_id}/consents"),
    ("get", "/api/v1/customers/{customer_id}/consents/history"),
    ("get", "/api/v1/organizations"),
    ("post", "/api/v1/organizations"),
    ("get", "/api/v1/organizations/{organization_id}"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/orders/{order_id}"),
    ("put", "/api/v1/orders/by-external-id/{external_id}"),
    ("post", "/api/v1/orders/bulk"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/me/tokens"),
    ("post", "/api/v1/me/tokens"),
    ("delete", "/api/v1/me/tokens/{token_id}"),
    ("post", "/api/v1/calls"),
    ("get", "/api/v1/calls/{call_id}"),
    ("get", "/api/v1/whatsapp/templates"),
    ("get", "/api/v1/conversations/{conversation_id}/whatsapp-window"),
    ("post", "/api/v1/conversations/{conversation_id}/whatsapp-template"),
    ("get", "/api/v1/helpcenter/articles"),
    ("get", "/api/v1/helpcenter/articles/search"),
    ("get", "/api/v1/helpcenter/articles/{article_id}"),
    ("get", "/api/v1/helpcenter/articles/{article_id}/feedback"),
    ("post", "/api/v1/helpcenter/articles/{article_id}/feedback"),
    ("delete", "/api/v1/surveys/{survey_id}"),
    ("get", "/api/v1/analytics/experiments"),
    ("post", "/api/v1/analytics/experiments"),
    ("get", "/api/v1/analytics/experiments/{experiment_id}"),
    ("post", "/api/v1/analytics/experiments/{experiment_id}/start"),
    ("post", "/api/v1/analytics/experiments/{experiment_id}/stop"),
    ("get", "/api/v1/analytics/experiments/{experiment_id}/results"),
    ("get", "/api/v1/analytics/export/conversations.csv"),
    ("get", "/api/v1/analytics/export/customers.csv"),
    ("get", "/api/v1/analytics/export/conversations"),
    ("get", "/api/v1/analytics/export/customers"),
    ("get", "/api/v1/analytics/journey"),
    ("get", "/api/v1/analytics/journey/drill"),
    ("get", "/api/v1/analytics/enps"),
    ("post", "/api/v1/analytics/enps/answer"),
    ("get", "/api/v1/analytics/metrics"),
    ("get", "/api/v1/analytics/targets"),
    ("put", "/api/v1/analytics/targets/{metric}"),
    ("get", "/api/v1/assistant/metrics"),
    ("get", "/api/v1/assistant/triage-rules"),
    ("put", "/api/v1/assistant/triage-rules"),
    ("post", "/api/v1/engagement/events"),
    ("post", "/api/v1/engagement/events/bulk"),
    ("post", "/api/v1/engagement/rules"),
    ("get", "/api/v1/engagement/rules"),
    ("put", "/api/v1/engagement/rules/{rule_id}"),
    ("post", "/api/v1/engagement/rules/{rule_id}/dry-run"),
    ("get", "/api/v1/engagement/rules/{rule_id}/sends"),
    ("put", "/api/v1/engagement/templates"),
    ("post", "/api/v1/engagement/templates/{template_id}/preview"),
    ("get", "/api/v1/engagement/settings"),
    ("post", "/api/v1/engagement/campaigns"),
    ("get", "/api/v1/engagement/campaigns"),
    ("get", "/api/v1/engagement/campaigns/{campaign_id}"),
    ("post", "/api/v1/engagement/campaigns/audience-preview"),
    ("post", "/api/v1/engagement/campaigns/{campaign_id}/start"),
    ("post", "/api/v1/engagement/campaigns/{campaign_id}/pause"),
    ("post", "/api/v1/engagement/campaigns/{campaign_id}/resume"),
    ("post", "/api/v1/engagement/campaigns/{campaign_id}/cancel"),
    ("get", "/api/v1/engagement/campaigns/{campaign_id}/report"),
    ("get", "/api/v1/engagement/rules/{rule_id}/metrics"),
    ("get", "/api/v1/channels/api/{inbox_id}/webhook"),
    ("get", "/api/v1/conversations"),
    ("get", "/api/v1/conversations/{conversation_id}"),
    ("get", "/api/v1/conversations/{conversation_id}/events"),
    ("get", "/api/v1/conversations/{conversation_id}/messages"),
    ("get", "/api/v1/inboxes"),
    ("get", "/api/v1/inboxes/{inbox_id}"),
    ("get", "/api/v1/messages/{message_id}"),
    ("get", "/api/v1/surveys"),
    ("get", "/api/v1/surveys/closed-loop"),
    ("get", "/api/v1/surveys/followups"),
    ("get", "/api/v1/surveys/followups/{followup_id}"),
    ("get", "/api/v1/surveys/metrics"),
    ("get", "/api/v1/surveys/responses"),
    ("get", "/api/v1/surveys/responses/{response_id}"),
    ("get", "/api/v1/surveys/settings"),
    ("get", "/api/v1/surveys/{survey_id}"),
    ("get", "/api/v1/surveys/{survey_id}/invitations"),
    ("get", "/api/v1/surveys/{survey_id}/responses.csv"),
    ("patch", "/api/v1/surveys/responses/{response_id}"),
    ("patch", "/api/v1/surveys/settings"),
    ("patch", "/api/v1/surveys/{survey_id}"),
    ("post", "/api/v1/channels/api/inboxes"),
    ("post", "/api/v1/channels/api/{inbox_id}/delivery"),
    ("post", "/api/v1/channels/api/{inbox_id}/messages"),
    ("post", "/api/v1/channels/api/{inbox_id}/messages/bulk"),
    ("post", "/api/v1/conversations/{conversation_id}/assignment"),
    ("post", "/api/v1/conversations/{conversation_id}/handling"),
    ("post", "/api/v1/conversations/{conversation_id}/messages"),
    ("post", "/api/v1/conversations/{conversation_id}/notes"),
    ("post", "/api/v1/conversations/{conversation_id}/priority"),
    ("post", "/api/v1/conversations/{conversation_id}/status"),
    ("post", "/api/v1/inboxes"),
    ("post", "/api/v1/surveys"),
    ("post", "/api/v1/surveys/followups/{followup_id}/assign"),
    ("post", "/api/v1/surveys/followups/{followup_id}/close"),
    ("post", "/api/v1/surveys/followups/{followup_id}/contact"),
    ("post", "/api/v1/surveys/invitations/{invitation_id}/bounce"),
    ("post", "/api/v1/surveys/invitations/{invitation_id}/link"),
    ("post", "/api/v1/surveys/{survey_id}/invitations"),
    ("put", "/api/v1/channels/api/{inbox_id}/webhook"),
    ("put", "/api/v1/conversations/{conversation_id}/tags"),
    ("put", "/api/v1/surveys/{survey_id}/questions"),
}


@pytest.fixture
def schema(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_openapi_lists_every_operation(schema):
    listed = {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }

    assert listed == OPERATIONS


def test_operations_are_secured_documented_and_uniquely_named(schema):
    operations = [op for item in schema["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in operations]

    assert len(ids) == len(set(ids))
    assert "list_customers" in ids
    assert set(schema["components"]["securitySchemes"]) == {"ApiTokenAuth", "SessionCookieAuth"}
    for op in operations:
        assert op["security"]
        problem = op["responses"]["4XX"]["content"]["application/problem+json"]["schema"]
        assert problem == {"$ref": "#/components/schemas/Problem"}
    assert {"type", "title", "status", "detail", "errors"} <= set(
        schema["components"]["schemas"]["Problem"]["properties"]
    )


def test_bulk_items_are_documented_with_their_item_schema_and_limit(schema):
    items = schema["components"]["schemas"]["CustomersBulkIn"]["properties"]["items"]

    assert items["maxItems"] == 1000
    assert "external_id" in items["items"]["properties"]


def test_interactive_docs_are_served(db):
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    assert b"openapi.json" in response.content


@pytest.mark.parametrize(
    ("literal", "choices"),
    [
        (api_schemas.IdentityKind, Identity.Kind.values),
        (api_schemas.OrderStatus, Order.Status.values),
        (api_schemas.ValueTierChoice, ValueTier.values),
        (api_schemas.ConsentPurposeChoice, ConsentPurpose.values),
        (api_schemas.ConsentChannelChoice, ConsentChannel.values),
    ],
)
def test_schema_choices_match_the_models(literal, choices):
    assert set(get_args(literal)) == set(choices)
