"""Accounts REST operations: who am I, and my API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import AfterValidator, Field

from ascolto.accounts import api_support, services
from ascolto.accounts.models import ROLE_PERMISSIONS
from ascolto.accounts.selectors import membership_for
from ascolto.core.api import Id, api_auth, no_nul, require
from ascolto.core.errors import Forbidden
from ascolto.core.schemas import InSchema

router = Router(auth=api_auth, tags=["accounts"])


class WorkspaceOut(Schema):
    id: int
    name: str
    slug: str
    timezone: str
    default_locale: str
    default_currency: str


class MeOut(Schema):
    id: int
    username: str
    name: str
    email: str
    locale: str
    workspace: WorkspaceOut
    role: str | None
    permissions: list[str]
    auth: str = Field(description='"token" or "session".')
    token_id: int | None


class TokenIn(InSchema):
    name: Annotated[str, Field(min_length=1, max_length=120), AfterValidator(no_nul)]


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    key: str = Field(description="The full key. Shown this once: it is stored only hashed.")


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> dict[str, Any]:
    """The caller, the workspace the request acts in, and what their role allows there."""
    ctx = require(request, "read")
    membership = membership_for(user=ctx.user, workspace=ctx.workspace)
    role = membership.role if membership is not None else None
    return {
        "id": ctx.user.pk,
        "username": ctx.user.get_username(),
        "name": ctx.user.get_full_name(),
        "email": ctx.user.email,
        "locale": ctx.user.locale,
        "workspace": ctx.workspace,
        "role": role,
        "permissions": sorted(ROLE_PERMISSIONS.get(role or "", frozenset())),
        "auth": ctx.method,
        "token_id": ctx.token.pk if ctx.token is not None else None,
    }


@router.get("/me/tokens", response=list[TokenOut])
def list_tokens(request: HttpRequest) -> Any:
    """Your API tokens for this workspace, revoked ones included."""
    ctx = require(request, "read")
    return api_support.api_tokens_of(user=ctx.user, workspace=ctx.workspace)


@router.post("/me/tokens", response={201: TokenCreatedOut})
def create_token(request: HttpRequest, payload: TokenIn) -> Status[dict[str, Any]]:
    """Create a token for this workspace. Needs a signed-in session: a token cannot mint
    tokens, so revoking a leaked one is enough to shut it out."""
    ctx = require(request, "read")
    if ctx.token is not None:
        raise Forbidden(_("API tokens are created from a signed-in session, not with a token."))
    with transaction.atomic():
        token, raw_key = services.api_token_create(
            workspace=ctx.workspace, user=ctx.user, name=payload.name, actor=ctx.actor
        )
    return Status(201, {**TokenOut.model_validate(token).model_dump(), "key": raw_key})


@router.delete("/me/tokens/{int:token_id}", response={204: None})
def revoke_token(request: HttpRequest, token_id: Id) -> Status[Any]:
    """Revoke one of your tokens; it stops working at once. Revoking twice is harmless."""
    ctx = require(request, "read")
    with transaction.atomic():
        token = api_support.api_token_get(user=ctx.user, workspace=ctx.workspace, token_id=token_id)
        services.api_token_revoke(token=token, actor=ctx.actor)
    return Status(204, None)
