"""Reads of experiments, always scoped by the workspace."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from ascolto.analytics.models import Experiment
from ascolto.core.errors import NotFound
from ascolto.core.models import Workspace


def experiment_list(*, workspace: Workspace) -> QuerySet[Experiment]:
    return Experiment.objects.filter(workspace=workspace).order_by("-created_at", "-id")


def experiment_get(*, workspace: Workspace, experiment_id: int) -> Experiment:
    """The workspace's experiment; NotFound for unknown ids and other workspaces' alike."""
    experiment = Experiment.objects.filter(workspace=workspace, pk=experiment_id).first()
    if experiment is None:
        raise NotFound(_("No such experiment."))
    return experiment
