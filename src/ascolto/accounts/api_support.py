"""Reads the accounts API needs beyond accounts.selectors: a user's own API tokens."""

from __future__ import annotations

from django.db.models import QuerySet

from ascolto.accounts.models import ApiToken, User
from ascolto.core.errors import NotFound
from ascolto.core.models import Workspace


def api_tokens_of(*, user: User, workspace: Workspace) -> QuerySet[ApiToken]:
    """The user's tokens for this workspace, newest first, revoked ones included."""
    return ApiToken.objects.filter(workspace=workspace, user=user).order_by("-created_at", "-pk")


def api_token_get(*, user: User, workspace: Workspace, token_id: int) -> ApiToken:
    """One of the user's own tokens in this workspace; NotFound for anyone else's."""
    token = (
        ApiToken.objects.select_related("workspace")
        .filter(workspace=workspace, user=user, pk=token_id)
        .first()
    )
    if token is None:
        raise NotFound(f"You have no API token #{token_id} in this workspace.")
    return token
