"""Experiments REST operations: create, list, read, start, stop and the results.

Creating, starting and stopping need the admin role (an experiment changes what customers
get); reading needs any role. Bad input is a 422 problem that names the field.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from ascolto.analytics.experiments import results, selectors, services
from ascolto.analytics.models import Experiment
from ascolto.core.api import api_auth, require

router = Router(auth=api_auth)
EXPERIMENTS = "experiments"


class VariantIn(Schema):
    key: str = Field(description="A, B, ...; the first variant is the control")
    weight: float = Field(allow_inf_nan=False, description="Share of units, relative")
    payload: dict[str, Any] = Field(default_factory=dict, description="The lever's setting")


class ExperimentIn(Schema):
    name: str
    hypothesis: str = ""
    unit: str = Field(description="conversation or customer")
    lever: str = Field(
        "",
        description="survey_delay, assistant_threshold, macro_wording, routing, or empty for a "
        "measured-only experiment",
    )
    variants: list[VariantIn]
    metric: str = Field(description="A key of the experiment metrics (docs/metrics.md)")
    design: str = Field(description="fixed or sequential")
    baseline: float = Field(
        allow_inf_nan=False,
        description="Current rate (binary metric) or standard deviation (continuous metric)",
    )
    mde: float = Field(allow_inf_nan=False, description="Smallest absolute change worth finding")
    alpha: float = Field(0.05, allow_inf_nan=False)
    power: float = Field(0.8, allow_inf_nan=False)


class ExperimentOut(Schema):
    id: int
    name: str
    hypothesis: str
    unit: str
    lever: str
    variants: list[dict[str, Any]]
    metric: str
    design: str
    baseline: float
    mde: float
    alpha: float
    power: float
    sample_size: int | None = Field(description="Planned units per variant")
    status: str
    started_at: str | None
    stopped_at: str | None


class ComparisonOut(Schema):
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    relative_lift: float | None
    df: float | None
    sequential_p_value: float | None
    decision: str


class VariantResultOut(Schema):
    key: str
    weight: float
    assigned: int
    n: int
    mean: float | None
    sd: float | None
    versus_control: ComparisonOut | None


class SrmOut(Schema):
    chi2: float
    p_value: float
    mismatch: bool


class ResultsOut(Schema):
    experiment_id: int
    metric: str
    binary: bool
    design: str
    planned_per_variant: int | None
    ready: bool
    alpha_per_comparison: float
    srm: SrmOut | None
    variants: list[VariantResultOut]


def experiment_out(e: Experiment) -> dict[str, Any]:
    return {
        **{f: getattr(e, f) for f in ("id", "name", "hypothesis", "unit", "lever", "variants")},
        **{f: getattr(e, f) for f in ("metric", "design", "baseline", "mde", "alpha", "power")},
        "sample_size": e.sample_size,
        "status": e.status,
        "started_at": e.started_at.isoformat() if e.started_at else None,
        "stopped_at": e.stopped_at.isoformat() if e.stopped_at else None,
    }


def results_out(r: results.ExperimentResult) -> dict[str, Any]:
    e = r.experiment
    variants = []
    for v in r.variants:
        c = v.comparison
        variants.append(
            {
                "key": v.key,
                "weight": v.weight,
                "assigned": v.assigned,
                "n": v.n,
                "mean": v.mean,
                "sd": v.sd,
                "versus_control": None
                if c is None
                else {
                    "difference": c.difference,
                    "ci_low": c.ci_low,
                    "ci_high": c.ci_high,
                    "p_value": c.p_value,
                    "relative_lift": c.relative_lift,
                    "df": c.df,
                    "sequential_p_value": v.sequential_p,
                    "decision": v.decision,
                },
            }
        )
    srm = r.srm
    return {
        "experiment_id": e.pk,
        "metric": e.metric,
        "binary": r.binary,
        "design": e.design,
        "planned_per_variant": e.sample_size,
        "ready": r.ready,
        "alpha_per_comparison": r.alpha,
        "srm": None
        if srm is None
        else {"chi2": srm.chi2, "p_value": srm.p_value, "mismatch": srm.mismatch},
        "variants": variants,
    }


@router.get("/analytics/experiments", response=list[ExperimentOut], tags=[EXPERIMENTS])
def list_experiments(request: HttpRequest) -> list[dict[str, Any]]:
    """The workspace's experiments, newest first."""
    ctx = require(request, "read")
    return [experiment_out(e) for e in selectors.experiment_list(workspace=ctx.workspace)[:200]]


@router.post("/analytics/experiments", response={201: ExperimentOut}, tags=[EXPERIMENTS])
def create_experiment(request: HttpRequest, payload: ExperimentIn) -> Status[dict[str, Any]]:
    """A draft experiment; the planned sample size per variant is computed from the baseline,
    the minimum detectable effect, alpha and power."""
    ctx = require(request, "admin")
    data = payload.model_dump()
    with transaction.atomic():
        experiment = services.experiment_create(workspace=ctx.workspace, **data)
    return Status(201, experiment_out(experiment))


@router.get("/analytics/experiments/{experiment_id}", response=ExperimentOut, tags=[EXPERIMENTS])
def get_experiment(request: HttpRequest, experiment_id: int) -> dict[str, Any]:
    ctx = require(request, "read")
    e = selectors.experiment_get(workspace=ctx.workspace, experiment_id=experiment_id)
    return experiment_out(e)


@router.post(
    "/analytics/experiments/{experiment_id}/start", response=ExperimentOut, tags=[EXPERIMENTS]
)
def start_experiment(request: HttpRequest, experiment_id: int) -> dict[str, Any]:
    """Start assigning units (409 if not a draft or another experiment runs on the lever)."""
    ctx = require(request, "admin")
    with transaction.atomic():
        e = selectors.experiment_get(workspace=ctx.workspace, experiment_id=experiment_id)
        return experiment_out(services.experiment_start(experiment=e))


@router.post(
    "/analytics/experiments/{experiment_id}/stop", response=ExperimentOut, tags=[EXPERIMENTS]
)
def stop_experiment(request: HttpRequest, experiment_id: int) -> dict[str, Any]:
    """Stop assigning units; results stay readable (409 if not running)."""
    ctx = require(request, "admin")
    with transaction.atomic():
        e = selectors.experiment_get(workspace=ctx.workspace, experiment_id=experiment_id)
        return experiment_out(services.experiment_stop(experiment=e))


@router.get(
    "/analytics/experiments/{experiment_id}/results", response=ResultsOut, tags=[EXPERIMENTS]
)
def get_experiment_results(request: HttpRequest, experiment_id: int) -> dict[str, Any]:
    """Per variant: units assigned, units with the outcome, the rate or mean; against the
    control: the difference with its interval, the p-value (always-valid in the sequential
    design) and the decision; the sample-ratio-mismatch check."""
    ctx = require(request, "read")
    e = selectors.experiment_get(workspace=ctx.workspace, experiment_id=experiment_id)
    return results_out(results.experiment_results(e))
