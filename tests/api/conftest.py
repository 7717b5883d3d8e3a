"""API test fixtures: clients that authenticate with a real API token of a given role."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ascolto.accounts import services as account_services
from ascolto.core.actors import Actor
from tests.accounts.factories import MembershipFactory, UserFactory

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code", "errors"}


class ApiClient:
    """A Django test client speaking JSON to /api/v1 with a bearer token."""

    def __init__(self, token: str | None = None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.token = token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        kwargs: dict[str, Any] = {"headers": {**self._headers(), **extra.pop("headers", {})}}
        if body is not None:
            kwargs["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
            kwargs["content_type"] = extra.pop("content_type", "application/json")
        kwargs.update(extra)
        return getattr(self.client, method)(url, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("get", path, data=params) if params else self.request("get", path)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.request("post", path, body, **extra)

    def put(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.request("put", path, body, **extra)

    def patch(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.request("patch", path, body, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.request("delete", path, **extra)


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with this status (and code)."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.content)
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"] == f"urn:ascolto:problem:{body['code']}"
    assert body["title"]
    assert body["detail"]
    assert body["instance"].startswith("/api/v1/")
    assert isinstance(body["errors"], dict)
    for messages in body["errors"].values():
        assert messages
        assert all(isinstance(m, str) and m for m in messages)
    if code is not None:
        assert body["code"] == code
    return dict(body)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Users are created in almost every API test; PBKDF2 would make the hashing the slowest
    # part of the suite. The hasher plays no part in what these tests check.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def session_client(user: Any, *, enforce_csrf_checks: bool = False) -> Client:
    """A browser-like client signed in as `user`.

    The user is re-read first: UserFactory sets the password on the instance without saving
    it, and a session made from that instance would not match the stored user.
    """
    user.refresh_from_db()
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    client.force_login(user)
    return client


@pytest.fixture
def make_token(db: Any) -> Callable[..., str]:
    def make(user: Any, workspace: Any, name: str = "test") -> str:
        _, raw = account_services.api_token_create(
            workspace=workspace, user=user, name=name, actor=Actor.for_user(user)
        )
        return raw

    return make


@pytest.fixture
def member(workspace: Any, make_token: Callable[..., str]) -> Callable[[str], ApiClient]:
    """`member("analyst")`: an ApiClient for a new user with that role in `workspace`."""

    def make(role: str) -> ApiClient:
        user = UserFactory()
        MembershipFactory(workspace=workspace, user=user, role=role)
        return ApiClient(make_token(user, workspace))

    return make


@pytest.fixture
def api(agent: Any, workspace: Any, make_token: Callable[..., str]) -> ApiClient:
    """An agent of `workspace` (may read and write), authenticated by API token."""
    return ApiClient(make_token(agent, workspace))


@pytest.fixture
def other_api(other_workspace: Any, make_token: Callable[..., str]) -> ApiClient:
    """An agent of `other_workspace`."""
    user = UserFactory()
    MembershipFactory(workspace=other_workspace, user=user, role="agent")
    return ApiClient(make_token(user, other_workspace))
