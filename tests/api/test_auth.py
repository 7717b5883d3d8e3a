"""Authentication (API tokens, sessions with CSRF), roles, /me and the token operations."""

from __future__ import annotations

import pytest

from ascolto.accounts.models import ApiToken, Membership
from ascolto.customers.models import Customer
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.api.conftest import ApiClient, assert_problem, session_client
from tests.customers.factories import CustomerFactory


def test_missing_token_is_401_with_a_bearer_challenge(db):
    response = ApiClient().get("customers")

    body = assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization" in body["detail"]


@pytest.mark.parametrize(
    "header",
    ["Bearer asc_not-a-real-token", "Bearer something-else", "Bearer ", "bearer asc_x"],
)
def test_wrong_token_is_401(db, header):
    response = ApiClient().get("customers", headers={"Authorization": header})

    assert_problem(response, 401, "not_authenticated")


def test_revoked_token_is_401(api, workspace):
    assert api.get("customers").status_code == 200
    ApiToken.objects.update(revoked_at="2025-01-01T00:00:00Z")

    assert_problem(api.get("customers"), 401)


def test_token_of_deactivated_user_is_401(api, agent):
    agent.is_active = False
    agent.save()

    assert_problem(api.get("customers"), 401)


def test_token_of_user_removed_from_workspace_is_403(api, agent):
    Membership.objects.filter(user=agent).delete()

    assert_problem(api.get("customers"), 403, "forbidden")


def test_wrong_token_does_not_fall_back_to_the_session(agent):
    client = session_client(agent)

    response = client.get("/api/v1/customers", headers={"Authorization": "Bearer asc_wrong"})

    assert_problem(response, 401)


def test_analyst_reads_but_cannot_write(member, workspace):
    analyst = member("analyst")
    customer = CustomerFactory(workspace=workspace)

    assert analyst.get(f"customers/{customer.pk}").status_code == 200
    body = assert_problem(analyst.post("customers", {"name": "Nope"}), 403, "forbidden")
    assert "write" in body["detail"]
    assert_problem(analyst.patch(f"customers/{customer.pk}", {"name": "Nope"}), 403)
    assert_problem(analyst.post("customers/bulk", {"items": [{"external_id": "x"}]}), 403)
    assert Customer.objects.filter(workspace=workspace).count() == 1
    assert Customer.objects.get().name == customer.name


@pytest.mark.parametrize("role", ["owner", "admin", "supervisor", "agent"])
def test_roles_that_may_write(member, role):
    assert member(role).post("customers", {"name": "Dana"}).status_code == 201


def test_session_reads_without_csrf_and_writes_only_with_it(agent, workspace):
    client = session_client(agent, enforce_csrf_checks=True)

    assert client.get("/api/v1/customers").status_code == 200
    refused = client.post(
        "/api/v1/customers", data={"name": "Dana"}, content_type="application/json"
    )
    assert_problem(refused, 403, "csrf_failed")
    assert not Customer.objects.exists()

    secret = "k" * 32  # what the UI reads from the csrftoken cookie
    client.cookies["csrftoken"] = secret
    accepted = client.post(
        "/api/v1/customers",
        data={"name": "Dana"},
        content_type="application/json",
        headers={"X-CSRFToken": secret},
    )
    assert accepted.status_code == 201
    assert accepted.json()["name"] == "Dana"


def test_session_acts_in_the_users_current_workspace(agent, workspace):
    client = session_client(agent)

    body = client.get("/api/v1/me").json()

    assert body["workspace"]["id"] == workspace.pk
    assert body["auth"] == "session"
    assert body["token_id"] is None


def test_session_user_without_workspace_is_403(db):
    client = session_client(UserFactory())

    assert_problem(client.get("/api/v1/customers"), 403)


def test_me_with_token(api, agent, workspace):
    body = api.get("me").json()

    assert body["username"] == agent.username
    assert body["workspace"]["slug"] == workspace.slug
    assert body["role"] == "agent"
    assert body["permissions"] == ["read", "write"]
    assert body["auth"] == "token"
    assert body["token_id"] == ApiToken.objects.get().pk


def test_token_lifecycle_from_a_session(agent, workspace):
    session = session_client(agent)

    created = session.post(
        "/api/v1/me/tokens", data={"name": "CRM sync"}, content_type="application/json"
    )

    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("asc_")
    assert created.json()["prefix"] == key[:12]
    stored = ApiToken.objects.get(pk=created.json()["id"])
    assert key not in (stored.digest, stored.prefix)
    token_client = ApiClient(key)
    listed = token_client.get("me/tokens").json()
    assert [t["name"] for t in listed] == ["CRM sync"]
    assert "key" not in listed[0]

    revoked = token_client.delete(f"me/tokens/{stored.pk}")

    assert revoked.status_code == 204
    assert_problem(token_client.get("me"), 401)
    again = session.delete(f"/api/v1/me/tokens/{stored.pk}")
    assert again.status_code == 204
    assert session.get("/api/v1/me/tokens").json()[0]["revoked_at"] is not None


def test_a_token_cannot_create_tokens(api):
    response = api.post("me/tokens", {"name": "another"})

    assert_problem(response, 403)
    assert ApiToken.objects.count() == 1


def test_cannot_see_or_revoke_someone_elses_token(api, workspace, make_token):
    colleague = UserFactory()
    MembershipFactory(workspace=workspace, user=colleague)
    make_token(colleague, workspace, name="theirs")
    theirs = ApiToken.objects.get(name="theirs")

    assert [t["name"] for t in api.get("me/tokens").json()] == ["test"]
    assert_problem(api.delete(f"me/tokens/{theirs.pk}"), 404)
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_token_name_is_validated(agent):
    session = session_client(agent)

    response = session.post("/api/v1/me/tokens", data={"name": ""}, content_type="application/json")

    body = assert_problem(response, 422)
    assert "name" in body["errors"]
