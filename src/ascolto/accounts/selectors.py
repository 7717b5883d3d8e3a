"""Reads for memberships and permissions."""

from __future__ import annotations

from django.db.models import QuerySet

from ascolto.accounts.models import ROLE_PERMISSIONS, Membership, User
from ascolto.core.models import Workspace


def membership_for(*, user: User, workspace: Workspace) -> Membership | None:
    return Membership.objects.filter(user=user, workspace=workspace).first()


def workspaces_for(*, user: User) -> QuerySet[Workspace]:
    return Workspace.objects.filter(memberships__user=user).order_by("name")


def has_permission(*, user: User, workspace: Workspace, permission: str) -> bool:
    if user.is_superuser:
        return True
    membership = membership_for(user=user, workspace=workspace)
    return membership is not None and permission in ROLE_PERMISSIONS.get(membership.role, set())
