"""Reading an experiment's results: each assigned unit's outcome from the stored data, set-based
(one query per metric, the variant joined in by a correlated subquery), then the statistics of
`stats` per treatment against the control (the first variant).

With more than two variants each treatment is compared with the control at alpha divided by the
number of treatments (Bonferroni), so the chance of any false "significant" stays within alpha.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, QuerySet, Subquery

from ascolto.analytics.experiments import stats
from ascolto.analytics.experiments.catalogue import METRICS
from ascolto.analytics.models import Experiment, ExperimentAssignment
from ascolto.assistant.models import BotSession
from ascolto.customers.models import Order
from ascolto.inbox.models import Conversation
from ascolto.surveys.metrics import CSAT_SATISFIED_MIN
from ascolto.surveys.models import Invitation, Response

LOOKS = 20
MIN_LOOK_UNITS = 10

Row = tuple[str, int, float]  # variant, assignment id (arrival order), value


def _assigned(experiment: Experiment, key: str) -> QuerySet[ExperimentAssignment]:
    return ExperimentAssignment.objects.filter(experiment=experiment, unit_id=OuterRef(key))


def _rows(
    experiment: Experiment,
    qs: QuerySet[Any],
    *,
    conversation_key: str,
    customer_key: str,
    time_field: str,
    fields: tuple[str, ...],
    value: Callable[..., float],
) -> Iterator[Row]:
    """(variant, assignment id, value) for each outcome row of an assigned unit. For customer
    units only rows from the unit's assignment on count."""
    customer = experiment.unit == Experiment.Unit.CUSTOMER
    key = customer_key if customer else conversation_key
    assigned = _assigned(experiment, key)
    qs = qs.filter(workspace_id=experiment.workspace_id).annotate(
        x_variant=Subquery(assigned.values("variant")[:1]),
        x_aid=Subquery(assigned.values("id")[:1]),
        x_at=Subquery(assigned.values("created_at")[:1]),
    )
    qs = qs.filter(x_variant__isnull=False)
    if customer:
        qs = qs.filter(**{f"{time_field}__gte": F("x_at")})
    for variant, aid, *values in qs.values_list("x_variant", "x_aid", *fields).iterator():
        yield variant, aid, float(value(*values))


def _seconds(end: Any, start: Any) -> float:
    return max(0.0, float((end - start).total_seconds()))


def _conversations(experiment: Experiment, **filters: Any) -> QuerySet[Conversation]:
    return Conversation.objects.filter(**filters)


def outcome_rows(experiment: Experiment) -> Iterable[Row]:
    """Every outcome row of the experiment's metric (see `catalogue` for the definitions)."""
    metric = experiment.metric
    responses: QuerySet[Response] = Response.objects.all()
    conv = {"conversation_key": "pk", "customer_key": "customer_id", "time_field": "created_at"}
    resp = {
        "conversation_key": "invitation__conversation_id",
        "customer_key": "customer_id",
        "time_field": "created_at",
    }
    if metric == "csat_positive":
        return _rows(
            experiment,
            responses.filter(csat_score__isnull=False),
            **resp,
            fields=("csat_score",),
            value=lambda s: s >= CSAT_SATISFIED_MIN,
        )
    if metric in ("csat_score", "nps_score"):
        return _rows(
            experiment,
            responses.filter(**{f"{metric}__isnull": False}),
            **resp,
            fields=(metric,),
            value=lambda s: s,
        )
    if metric == "survey_answered":
        return _rows(
            experiment,
            Invitation.objects.filter(sent_at__isnull=False),
            conversation_key="conversation_id",
            customer_key="customer_id",
            time_field="created_at",
            fields=("answered_at",),
            value=lambda at: at is not None,
        )
    if metric == "resolved_by_bot":
        return _rows(
            experiment,
            BotSession.objects.all(),
            conversation_key="conversation_id",
            customer_key="conversation__customer_id",
            # The session starts before the assignment it triggers; its outcome comes after.
            time_field="updated_at",
            fields=("state",),
            value=lambda s: s == BotSession.State.RESOLVED,
        )
    if metric == "resolved_no_reopen":
        return _rows(
            experiment,
            _conversations(experiment, resolved_at__isnull=False),
            **conv,
            fields=("reopen_count",),
            value=lambda n: n == 0,
        )
    if metric == "first_response_seconds":
        return _rows(
            experiment,
            _conversations(
                experiment, first_response_at__isnull=False, first_customer_message_at__isnull=False
            ),
            **conv,
            fields=("first_response_at", "first_customer_message_at"),
            value=_seconds,
        )
    if metric == "resolution_seconds":
        return _rows(
            experiment,
            _conversations(experiment, resolved_at__isnull=False),
            **conv,
            fields=("resolved_at", "first_customer_message_at", "created_at"),
            value=lambda end, first, created: _seconds(end, first or created),
        )
    if metric == "converted":
        ordered = Order.objects.filter(
            customer_id=OuterRef("unit_id"), placed_at__gte=OuterRef("created_at")
        )
        qs = (
            ExperimentAssignment.objects.filter(experiment=experiment)
            .annotate(converted=Exists(ordered))
            .values_list("variant", "id", "converted")
        )
        return ((v, aid, float(c)) for v, aid, c in qs.iterator())
    raise ValueError(f"unknown experiment metric {metric}")


def per_unit(experiment: Experiment, rows: Iterable[Row]) -> list[Row]:
    """One outcome per unit, in arrival order: for customers, any success (binary) or the
    mean (continuous) of their rows."""
    grouped: dict[int, tuple[str, list[float]]] = {}
    for variant, aid, value in rows:
        grouped.setdefault(aid, (variant, []))[1].append(value)
    binary = METRICS[experiment.metric].binary
    units = []
    for aid in sorted(grouped):
        variant, values = grouped[aid]
        outcome = max(values) if binary else sum(values) / len(values)
        units.append((variant, aid, outcome))
    return units


@dataclass
class Moments:
    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.squares += value * value

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        if self.n < 2:
            return None
        return max(0.0, (self.squares - self.total**2 / self.n) / (self.n - 1))


@dataclass
class VariantResult:
    key: str
    weight: float
    assigned: int
    moments: Moments
    comparison: stats.Comparison | None = None
    sequential_p: float | None = None
    decision: str = ""

    @property
    def n(self) -> int:
        return self.moments.n

    @property
    def mean(self) -> float | None:
        return self.moments.mean

    @property
    def sd(self) -> float | None:
        v = self.moments.variance
        return None if v is None else math.sqrt(v)


@dataclass
class ExperimentResult:
    experiment: Experiment
    variants: list[VariantResult]
    alpha: float
    srm: stats.Srm | None
    ready: bool
    binary: bool
    notes: list[str] = field(default_factory=list)


def _compare(binary: bool, control: Moments, treatment: Moments, alpha: float) -> stats.Comparison:
    if binary:
        return stats.two_proportion_test(
            x_control=round(control.total),
            n_control=control.n,
            x_treatment=round(treatment.total),
            n_treatment=treatment.n,
            alpha=alpha,
        )
    if control.n < 2 or treatment.n < 2:
        return stats.EMPTY
    return stats.welch_test(
        n_control=control.n,
        mean_control=control.total / control.n,
        var_control=control.variance or 0.0,
        n_treatment=treatment.n,
        mean_treatment=treatment.total / treatment.n,
        var_treatment=treatment.variance or 0.0,
        alpha=alpha,
    )


def sequential_looks(
    units: list[Row], control: str, treatment: str
) -> list[tuple[int, float, float]]:
    """(units so far, difference, its sampling variance) at up to LOOKS evenly spaced points of
    arrival; looks with fewer than MIN_LOOK_UNITS per arm or no variation are skipped."""
    pair = [u for u in units if u[0] in (control, treatment)]
    if not pair:
        return []
    marks = {math.ceil(len(pair) * i / LOOKS) for i in range(1, LOOKS + 1)}
    a, b = Moments(), Moments()
    looks = []
    for i, (variant, _aid, value) in enumerate(pair, start=1):
        (a if variant == control else b).add(value)
        if i not in marks or a.n < MIN_LOOK_UNITS or b.n < MIN_LOOK_UNITS:
            continue
        variance = (a.variance or 0.0) / a.n + (b.variance or 0.0) / b.n
        if variance > 0:
            looks.append((i, b.total / b.n - a.total / a.n, variance))
    return looks


def _decision(
    experiment: Experiment, comparison: stats.Comparison, p: float | None, alpha: float, ready: bool
) -> str:
    if experiment.design == Experiment.Design.FIXED and not ready:
        return "not_enough_data"
    if p is None or comparison.difference is None:
        return "not_enough_data"
    if p <= alpha and comparison.difference != 0:
        better = (comparison.difference > 0) == METRICS[experiment.metric].higher_is_better
        return "better" if better else "worse"
    if experiment.design == Experiment.Design.SEQUENTIAL and experiment.status == "running":
        return "continue"
    return "no_difference"


def experiment_results(experiment: Experiment) -> ExperimentResult:
    binary = METRICS[experiment.metric].binary
    counts = dict(
        ExperimentAssignment.objects.filter(experiment=experiment)
        .values("variant")
        .annotate(n=Count("id"))
        .values_list("variant", "n")
    )
    units = per_unit(experiment, outcome_rows(experiment))
    moments = {str(v["key"]): Moments() for v in experiment.variants}
    for variant, _aid, value in units:
        if variant in moments:
            moments[variant].add(value)
    results = [
        VariantResult(str(v["key"]), float(v["weight"]), counts.get(v["key"], 0), moments[v["key"]])
        for v in experiment.variants
    ]
    alpha = experiment.alpha / max(1, len(results) - 1)
    planned = experiment.sample_size or 0
    ready = all(r.n >= planned for r in results)
    control = results[0]
    for r in results[1:]:
        r.comparison = _compare(binary, control.moments, r.moments, alpha)
        p = r.comparison.p_value
        if experiment.design == Experiment.Design.SEQUENTIAL:
            path = stats.msprt(sequential_looks(units, control.key, r.key), tau2=experiment.mde**2)
            r.sequential_p = path[-1].p_value if path else None
            p = r.sequential_p
        r.decision = _decision(experiment, r.comparison, p, alpha, ready)
    srm = stats.srm_check([r.assigned for r in results], [r.weight for r in results])
    return ExperimentResult(experiment, results, alpha, srm, ready, binary)
