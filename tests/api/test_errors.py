"""Every failure is a problem document with a clear 4xx, and leaves nothing half-written."""

from __future__ import annotations

import json

import pytest

from ascolto.core.models import AuditLogEntry, OutboxEvent
from ascolto.customers.models import Activity, Customer, Identity, Order
from tests.api.conftest import assert_problem
from tests.customers.factories import CustomerFactory, IdentityFactory


@pytest.mark.parametrize("body", ["{bad", '{"name": "Dana"', "[1,", "nul\x00", "{'a': 1}"])
def test_malformed_json_is_400(api, body):
    body_doc = assert_problem(api.post("customers", body), 400, "malformed_json")

    assert "JSON" in body_doc["detail"]
    assert not Customer.objects.exists()


def test_body_that_is_not_utf8_is_400(api):
    response = api.post("customers", b'{"name": "\xff\xfe"}')

    assert_problem(response, 400, "malformed_json")


def test_wrong_types_name_each_field(api):
    response = api.post(
        "customers",
        {
            "name": 5,
            "birthday": "yesterday",
            "value_tier": "diamond",
            "identities": [{"kind": "fax", "value": "1"}, {"kind": "email"}],
        },
    )

    errors = assert_problem(response, 422, "validation_failed")["errors"]
    assert set(errors) == {
        "name",
        "birthday",
        "value_tier",
        "identities.0.kind",
        "identities.1.value",
    }
    assert not Customer.objects.exists()


def test_json_that_is_not_an_object_is_422(api):
    errors = assert_problem(api.post("customers", [1, 2]), 422)["errors"]

    assert list(errors) == ["body"]


def test_unknown_fields_are_refused_not_ignored(api):
    errors = assert_problem(api.post("customers", {"nmae": "Dana"}), 422)["errors"]

    assert list(errors) == ["nmae"]


def test_values_that_would_not_fit_the_database_are_422(api):
    response = api.post(
        "customers", {"name": "x" * 201, "locale": "it-IT-x-long", "external_id": "e" * 101}
    )

    assert set(assert_problem(response, 422)["errors"]) == {"name", "locale", "external_id"}


def test_nul_characters_are_refused(api, workspace):
    customer = CustomerFactory(workspace=workspace)

    assert_problem(api.post("customers", {"name": "Da\x00na"}), 422)
    assert_problem(api.patch(f"customers/{customer.pk}", {"attributes": {"k": "\x00"}}), 422)
    assert_problem(api.get("customers", search="a\x00b"), 422)


def test_domain_validation_is_422_with_field_errors(api):
    response = api.post("customers", {"name": "Dana", "timezone": "Mars/Olympus"})

    body = assert_problem(response, 422, "validation_failed")
    assert body["detail"] == "The customer is not valid."
    assert "timezone" in body["errors"]


def test_bad_query_parameters_are_422(api):
    errors = assert_problem(api.get("customers", limit=0, has_orders="perhaps"), 422)["errors"]

    assert set(errors) == {"limit", "has_orders"}


def test_tampered_cursor_is_422(api):
    body = assert_problem(api.get("customers", cursor="not-a-cursor"), 422)

    assert "cursor" in body["errors"]


@pytest.mark.parametrize(
    "path",
    ["customers/987654", "orders/987654", "organizations/987654", "customers/987654/timeline"],
)
def test_unknown_ids_are_404(api, path):
    assert_problem(api.get(path), 404, "not_found")


def test_ids_out_of_range_are_422(api):
    errors = assert_problem(api.get(f"customers/{2**64}"), 422)["errors"]

    assert list(errors) == ["customer_id"]


def test_unknown_path_is_a_404_problem(api):
    assert_problem(api.get("customers/abc"), 404)
    assert_problem(api.get("no/such/thing"), 404)


def test_wrong_method_is_a_405_problem(api):
    response = api.delete("customers")

    assert_problem(response, 405, "method_not_allowed")
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_wrong_content_type_is_415(api):
    response = api.post("customers", "name=Dana", content_type="application/x-www-form-urlencoded")

    assert_problem(response, 415, "unsupported_media_type")
    assert not Customer.objects.exists()


def test_body_over_the_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = api.post("customers", {"name": "x" * 2000})

    body = assert_problem(response, 413, "payload_too_large")
    assert "1000" in body["detail"]
    assert not Customer.objects.exists()


def test_huge_body_at_the_default_limit_is_413_not_500(api, settings):
    items = [{"external_id": f"c{i}", "name": "n" * 100} for i in range(90_000)]
    body = json.dumps({"items": items})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    assert_problem(api.post("customers/bulk", body), 413)
    assert not Customer.objects.exists()


def test_huge_form_body_with_a_session_is_413(agent, settings):
    from tests.api.conftest import session_client

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = session_client(agent, enforce_csrf_checks=True)

    response = client.post(
        "/api/v1/customers",
        data="a=" + "x" * 5000,
        content_type="application/x-www-form-urlencoded",
    )

    assert_problem(response, 413)


def test_conflicting_identity_is_409_and_nothing_is_written(api, workspace):
    owner = CustomerFactory(workspace=workspace)
    IdentityFactory(customer=owner, kind="email", value="dana@example.com")
    before = (Customer.objects.count(), Identity.objects.count(), AuditLogEntry.objects.count())

    response = api.post(
        "customers",
        {
            "name": "Dana",
            "identities": [
                {"kind": "phone", "value": "+39 06 1234 5678"},
                {"kind": "email", "value": "DANA@example.com"},
            ],
        },
    )

    body = assert_problem(response, 409, "conflict")
    assert "identities" in body["errors"]
    after = (Customer.objects.count(), Identity.objects.count(), AuditLogEntry.objects.count())
    assert after == before


def test_failure_after_the_first_writes_rolls_everything_back(api, workspace, monkeypatch):
    # The customer, its identity, timeline entry and audit row are written before the outbox
    # event; a crash there must not leave them behind.
    from ascolto.customers.services import customers as customer_services

    def broken_emit(**kwargs: object) -> None:
        raise RuntimeError("outbox table is on fire")

    monkeypatch.setattr(customer_services.outbox, "emit", broken_emit)

    response = api.post(
        "customers", {"name": "Dana", "identities": [{"kind": "email", "value": "d@x.com"}]}
    )

    body = assert_problem(response, 500, "internal_error")
    assert "fire" not in response.content.decode()
    assert "Traceback" not in body["detail"]
    assert not Customer.objects.exists()
    assert not Identity.objects.exists()
    assert not Activity.objects.exists()
    assert not AuditLogEntry.objects.filter(action="customer.create").exists()
    assert not OutboxEvent.objects.exists()


def test_failed_order_upsert_leaves_no_order(api, workspace, monkeypatch):
    from ascolto.customers.services import orders as order_services

    customer = CustomerFactory(workspace=workspace)

    def broken_refresh(**kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(order_services, "customer_refresh_stats", broken_refresh)

    response = api.put(
        "orders/by-external-id/A-1",
        {
            "customer_id": customer.pk,
            "placed_at": "2025-03-01T10:00:00Z",
            "total": "10.00",
            "currency": "EUR",
            "lines": [{"name": "Mug", "quantity": 1, "unit_price": "10.00"}],
        },
    )

    assert_problem(response, 500)
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "values",
    [(2**70,), (-(2**70),), ("0001-01-01T00:00:00+14:00", 2**70), ("x", 1)],
)
def test_hand_made_cursors_never_fail_with_500(api, workspace, values):
    from ascolto.core.pagination import encode_cursor

    CustomerFactory(workspace=workspace)
    cursor = encode_cursor(*values)

    for path in ("customers", "orders"):
        response = api.get(path, cursor=cursor)
        # A well-formed cursor past every id simply pages from the start or finds nothing.
        if response.status_code != 200:
            assert_problem(response, 422)


def test_chunked_body_without_length_is_read_with_a_limit(settings):
    # Under ASGI a chunked request has no Content-Length; Django would read it whole.
    import io

    from django.core.handlers.asgi import ASGIRequest
    from django.http import HttpResponse

    from ascolto.core.api import problem_boundary

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/customers/bulk",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    calls = []
    view = problem_boundary(lambda request: calls.append(request.body) or HttpResponse())

    too_big = view(ASGIRequest(scope, io.BytesIO(b"x" * 101)))
    fits = view(ASGIRequest(scope, io.BytesIO(b"y" * 100)))

    assert_problem(too_big, 413)
    assert fits.status_code == 200
    assert calls == [b"y" * 100]
