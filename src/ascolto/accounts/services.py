"""Writes for workspaces, memberships, teams and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone
from django.utils.text import slugify

from ascolto.accounts.models import ApiToken, Membership, Role, Team, User
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace

TOKEN_PREFIX = "asc_"  # noqa: S105 - a public marker of our tokens, not a secret


def workspace_create(
    *,
    name: str,
    owner: User | None = None,
    slug: str = "",
    timezone_name: str = "UTC",
    default_locale: str = "en",
) -> Workspace:
    base = slug or slugify(name)[:50] or "workspace"
    candidate, n = base, 1
    while Workspace.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    workspace = Workspace.objects.create(
        name=name, slug=candidate, timezone=timezone_name, default_locale=default_locale
    )
    if owner is not None:
        Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    return workspace


def membership_set(*, workspace: Workspace, user: User, role: str, actor: Actor) -> Membership:
    if role not in Role.values:
        raise ValidationFailed(
            f"Unknown role {role!r}.", field_errors={"role": [f"Choose one of {Role.values}."]}
        )
    membership, _ = Membership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="membership.set",
        object_type="user",
        object_id=user.pk,
        changes={"role": role},
    )
    return membership


def team_create(*, workspace: Workspace, name: str, members: list[User], actor: Actor) -> Team:
    team = Team.objects.create(workspace=workspace, name=name)
    team.members.set(members)
    audit_record(
        workspace=workspace,
        actor=actor,
        action="team.create",
        object_type="team",
        object_id=team.pk,
        changes={"name": name},
    )
    return team


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_token_create(
    *, workspace: Workspace, user: User, name: str, actor: Actor
) -> tuple[ApiToken, str]:
    """Create a token and return it with the raw key, which is shown once and never stored."""
    if not Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationFailed("The user is not a member of this workspace.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        workspace=workspace, user=user, name=name, prefix=raw[:12], digest=_digest(raw)
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="api_token.create",
        object_type="api_token",
        object_id=token.pk,
        changes={"name": name, "user": user.get_username()},
    )
    return token, raw


def api_token_revoke(*, token: ApiToken, actor: Actor) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            workspace=token.workspace,
            actor=actor,
            action="api_token.revoke",
            object_type="api_token",
            object_id=token.pk,
        )


def api_token_authenticate(raw_key: str) -> ApiToken | None:
    """The active token for a raw key, or None. Marks it used (at most once a minute)."""
    if not raw_key.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user", "workspace")
        .filter(digest=_digest(raw_key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
