"""Admin for analytics, for diagnosis: targets, experiments and their assignments are managed on
the analytics pages (the services validate and audit); rollups and snapshots are written by the
jobs; employee NPS pulses are opened by a job and answered by agents, anonymously."""

from __future__ import annotations

from ascolto.analytics.enps.models import Pulse, PulseAnswer, PulseSchedule
from ascolto.analytics.models import (
    AgentDay,
    AssistantDay,
    ConversationRollup,
    ConversationRollupState,
    DigestSent,
    Experiment,
    ExperimentAssignment,
    MetricAlert,
    MetricTarget,
    Snapshot,
    WorkloadRollupState,
)
from ascolto.core.admin import register_read_only

register_read_only(
    MetricTarget,
    MetricAlert,
    DigestSent,
    Experiment,
    ExperimentAssignment,
    ConversationRollup,
    ConversationRollupState,
    Snapshot,
    AgentDay,
    AssistantDay,
    WorkloadRollupState,
    Pulse,
    PulseAnswer,
    PulseSchedule,
)
