"""Reads of voice calls, scoped by workspace."""

from __future__ import annotations

from ascolto.connectors.voice.models import CallRecord
from ascolto.core.errors import NotFound
from ascolto.core.models import Workspace


def call_get(*, workspace: Workspace, call_id: int) -> CallRecord:
    """The call with this id in the workspace; another workspace's id is NotFound alike."""
    call = (
        CallRecord.objects.select_related("conversation", "agent")
        .filter(workspace=workspace, pk=call_id)
        .first()
    )
    if call is None:
        raise NotFound(f"No call #{call_id} in this workspace.")
    return call
