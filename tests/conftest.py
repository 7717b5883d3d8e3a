"""Shared fixtures. Test settings: data dir in a temporary folder, Huey in immediate mode."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("ASCOLTO_DATA_DIR", tempfile.mkdtemp(prefix="ascolto-test-"))
os.environ.setdefault("ASCOLTO_ENV", "test")

import pytest  # noqa: E402

from ascolto.core.actors import Actor  # noqa: E402
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory  # noqa: E402


@pytest.fixture
def workspace(db):  # type: ignore[no-untyped-def]
    return WorkspaceFactory()


@pytest.fixture
def other_workspace(db):  # type: ignore[no-untyped-def]
    return WorkspaceFactory()


@pytest.fixture
def agent(workspace):  # type: ignore[no-untyped-def]
    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user, role="agent")
    return user


@pytest.fixture
def admin_user(workspace):  # type: ignore[no-untyped-def]
    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user, role="admin")
    return user


@pytest.fixture
def actor(agent):  # type: ignore[no-untyped-def]
    return Actor.for_user(agent)
