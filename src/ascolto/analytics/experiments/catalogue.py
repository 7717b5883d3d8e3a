"""The metrics an experiment can be judged on: what counts as one unit's outcome.

Binary metrics give each unit 0 or 1 and compare rates; continuous ones give a number and
compare means. A unit without the outcome (no survey answer yet, no first response) is left out
of that metric's n. For customer units, a customer's outcome is taken over their conversations
or answers after their assignment: "any" for binary metrics, the mean for continuous ones.
Definitions in docs/metrics.md (Experiments).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

BOTH = ("conversation", "customer")


@dataclass(frozen=True)
class ExperimentMetric:
    key: str
    label: str | Promise
    binary: bool
    units: tuple[str, ...]
    higher_is_better: bool = True


METRICS: dict[str, ExperimentMetric] = {
    m.key: m
    for m in [
        ExperimentMetric("csat_positive", _("CSAT positive (4 or 5)"), True, BOTH),
        ExperimentMetric("survey_answered", _("Survey answered (of surveys sent)"), True, BOTH),
        ExperimentMetric("resolved_by_bot", _("Resolved by the assistant"), True, BOTH),
        ExperimentMetric("resolved_no_reopen", _("Resolved and never reopened"), True, BOTH),
        ExperimentMetric("converted", _("Placed an order after assignment"), True, ("customer",)),
        ExperimentMetric(
            "first_response_seconds", _("First response time (seconds)"), False, BOTH, False
        ),
        ExperimentMetric("resolution_seconds", _("Resolution time (seconds)"), False, BOTH, False),
        ExperimentMetric("nps_score", _("NPS answer (0 to 10)"), False, BOTH),
        ExperimentMetric("csat_score", _("CSAT answer (1 to 5)"), False, BOTH),
    ]
}
