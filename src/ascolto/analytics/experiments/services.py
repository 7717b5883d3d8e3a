"""Writes of experiments: create, start, stop, and the assignment of units to variants.

Assignment is a deterministic hash of (experiment, unit id) into the variants by weight, so the
same unit always lands in the same variant; the first exposure records it in
`ExperimentAssignment` (unique per experiment and unit), so a change of weights can never move a
unit that was already exposed. Services take the caller's transaction (GUIDE §2).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ascolto.analytics.experiments.catalogue import METRICS
from ascolto.analytics.experiments.levers import LEVERS
from ascolto.analytics.experiments.stats import sample_size_means, sample_size_proportions
from ascolto.analytics.models import Experiment, ExperimentAssignment
from ascolto.core import outbox
from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.core.models import Workspace

MAX_VARIANTS = 6


def bucket(experiment_id: int, unit_id: int) -> float:
    """A number in [0, 1), uniform over units and fixed for (experiment, unit)."""
    digest = hashlib.sha256(f"{experiment_id}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def variant_by_hash(experiment: Experiment, unit_id: int) -> str:
    """The variant the weights give the unit (not recorded)."""
    point = bucket(experiment.pk, unit_id) * sum(float(v["weight"]) for v in experiment.variants)
    running = 0.0
    for v in experiment.variants:
        running += float(v["weight"])
        if point < running:
            return str(v["key"])
    return str(experiment.variants[-1]["key"])


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, field_errors={field: [message]})


def clean_variants(raw: Any, *, lever: str) -> list[dict[str, Any]]:
    """Two to six variants with distinct keys, positive weights and a payload object the lever
    accepts. Raises ValidationFailed naming the field."""
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_VARIANTS:
        raise _fail("variants", _("Give two to six variants."))
    cleaned: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise _fail("variants", _("Each variant needs a key, a weight and a payload."))
        key, weight, payload = item.get("key"), item.get("weight"), item.get("payload", {})
        if not isinstance(key, str) or not key.strip() or len(key) > 20:
            raise _fail("variants", _("A variant key is a name of 1 to 20 characters."))
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not 0 < weight <= 1000
        ):
            raise _fail("variants", _("A variant weight is a number above 0, at most 1000."))
        if not isinstance(payload, dict):
            raise _fail("variants", _("A variant payload is a JSON object."))
        if lever:
            problem = LEVERS[lever].check(payload)
            if problem:
                raise _fail("variants", problem)
        cleaned.append({"key": key.strip(), "weight": weight, "payload": payload})
    if len({v["key"] for v in cleaned}) != len(cleaned):
        raise _fail("variants", _("Variant keys must be different."))
    scope_key = LEVERS[lever].scope_key if lever else ""
    if scope_key and len({repr(v["payload"].get(scope_key)) for v in cleaned}) != 1:
        raise _fail(
            "variants",
            _("Every variant names the same %(key)s.") % {"key": scope_key},
        )
    return cleaned


def experiment_scope(experiment: Experiment) -> Any:
    """The object a scoped lever's experiment applies to (a macro or inbox id), else None."""
    lever = LEVERS.get(experiment.lever)
    if lever is None or not lever.scope_key or not experiment.variants:
        return None
    return (experiment.variants[0].get("payload") or {}).get(lever.scope_key)


def planned_sample_size(
    *, metric: str, baseline: float, mde: float, alpha: float, power: float
) -> int:
    """Units per variant for the design (see `stats`); raises ValidationFailed when the
    inputs cannot give one."""
    if not 0 < alpha < 0.5:
        raise _fail("alpha", _("The significance level is between 0 and 0.5."))
    if not 0.5 <= power < 1:
        raise _fail("power", _("Power is at least 0.5 and below 1."))
    try:
        if METRICS[metric].binary:
            return sample_size_proportions(baseline=baseline, mde=mde, alpha=alpha, power=power)
        return sample_size_means(sd=baseline, mde=mde, alpha=alpha, power=power)
    except ValueError:
        if METRICS[metric].binary:
            raise _fail(
                "baseline",
                _("The baseline rate and the rate plus the effect must be between 0 and 1."),
            ) from None
        raise _fail(
            "baseline", _("The standard deviation must be positive and the effect not zero.")
        ) from None


def experiment_create(
    *,
    workspace: Workspace,
    name: str,
    hypothesis: str = "",
    unit: str,
    lever: str = "",
    variants: Any,
    metric: str,
    design: str,
    baseline: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> Experiment:
    """A draft experiment. Raises ValidationFailed (field by field) for bad input."""
    if not name.strip():
        raise _fail("name", _("Give the experiment a name."))
    if unit not in Experiment.Unit.values:
        raise _fail("unit", _("Unknown unit."))
    if lever and lever not in LEVERS:
        raise _fail("lever", _("Unknown lever."))
    if metric not in METRICS:
        raise _fail("metric", _("Unknown metric."))
    if unit not in METRICS[metric].units:
        raise _fail("metric", _("This metric cannot be measured on this unit."))
    if design not in Experiment.Design.values:
        raise _fail("design", _("Unknown design."))
    cleaned = clean_variants(variants, lever=lever)
    check_workspace = LEVERS[lever].check_workspace if lever else None
    if check_workspace is not None:
        problem = check_workspace(workspace.pk, cleaned[0]["payload"])
        if problem:
            raise _fail("variants", problem)
    size = planned_sample_size(metric=metric, baseline=baseline, mde=mde, alpha=alpha, power=power)
    return Experiment.objects.create(
        workspace=workspace,
        name=name.strip()[:200],
        hypothesis=hypothesis,
        unit=unit,
        lever=lever,
        variants=cleaned,
        metric=metric,
        design=design,
        baseline=baseline,
        mde=mde,
        alpha=alpha,
        power=power,
        sample_size=size,
    )


def experiment_start(*, experiment: Experiment) -> Experiment:
    """Draft to running. Only one running experiment per lever, so an exposed unit gets one
    setting. Raises Conflict otherwise."""
    if experiment.status != Experiment.Status.DRAFT:
        raise Conflict(_("Only a draft experiment can be started."))
    if experiment.lever:
        scope = experiment_scope(experiment)
        running = Experiment.objects.filter(
            workspace_id=experiment.workspace_id,
            lever=experiment.lever,
            status=Experiment.Status.RUNNING,
        )
        if any(experiment_scope(other) == scope for other in running):
            raise Conflict(_("Another experiment on this lever is running; stop it first."))
    experiment.status = Experiment.Status.RUNNING
    experiment.started_at = timezone.now()
    experiment.save(update_fields=["status", "started_at", "updated_at"])
    outbox.emit(
        workspace=experiment.workspace,
        name="analytics.experiment.started",
        payload={"experiment_id": experiment.pk},
    )
    return experiment


def experiment_stop(*, experiment: Experiment) -> Experiment:
    """Running to stopped: no more assignments; results stay readable."""
    if experiment.status != Experiment.Status.RUNNING:
        raise Conflict(_("Only a running experiment can be stopped."))
    experiment.status = Experiment.Status.STOPPED
    experiment.stopped_at = timezone.now()
    experiment.save(update_fields=["status", "stopped_at", "updated_at"])
    outbox.emit(
        workspace=experiment.workspace,
        name="analytics.experiment.stopped",
        payload={"experiment_id": experiment.pk},
    )
    return experiment


def experiment_variant_for(*, experiment: Experiment, unit_id: int) -> str | None:
    """The variant recorded for the unit, or None if it was never exposed."""
    return (
        ExperimentAssignment.objects.filter(experiment=experiment, unit_id=unit_id)
        .values_list("variant", flat=True)
        .first()
    )


def experiment_assign(*, experiment: Experiment, unit_id: int) -> str:
    """The unit's variant, recorded at its first exposure. Safe under concurrency: a racing
    second caller hits the unique constraint (inside a savepoint) and reads the first's row.
    Raises Conflict when the experiment is not running."""
    recorded = experiment_variant_for(experiment=experiment, unit_id=unit_id)
    if recorded is not None:
        return recorded
    if experiment.status != Experiment.Status.RUNNING:
        raise Conflict(_("The experiment is not running."))
    variant = variant_by_hash(experiment, unit_id)
    try:
        with transaction.atomic():
            ExperimentAssignment.objects.create(
                workspace_id=experiment.workspace_id,
                experiment=experiment,
                unit_id=unit_id,
                variant=variant,
            )
    except IntegrityError:
        recorded = experiment_variant_for(experiment=experiment, unit_id=unit_id)
        if recorded is None:
            raise
        return recorded
    return variant


def running_experiments(*, workspace_id: int, lever: str) -> list[Experiment]:
    """The workspace's running experiments on `lever`, latest started first."""
    return list(
        Experiment.objects.filter(
            workspace_id=workspace_id, lever=lever, status=Experiment.Status.RUNNING
        ).order_by("-started_at", "-id")
    )


def variant_payload(
    *,
    experiment: Experiment,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    record: bool = True,
) -> dict[str, Any] | None:
    """The payload of the variant this conversation or customer gets in `experiment`, or None
    when the unit id the experiment needs is not given. With `record` the unit is assigned
    now (its exposure); without, the variant is only looked up (recorded, else the hash's),
    e.g. for a preview that may never be used."""
    unit_id = conversation_id if experiment.unit == Experiment.Unit.CONVERSATION else customer_id
    if unit_id is None:
        return None
    if record:
        key = experiment_assign(experiment=experiment, unit_id=unit_id)
    else:
        key = experiment_variant_for(experiment=experiment, unit_id=unit_id) or variant_by_hash(
            experiment, unit_id
        )
    for v in experiment.variants:
        if v["key"] == key:
            return dict(v.get("payload") or {})
    return None


def experiment_payload(
    *,
    workspace_id: int,
    lever: str,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    scope: Any = None,
    record: bool = True,
) -> dict[str, Any] | None:
    """For another app about to apply `lever`: the payload of the variant this conversation or
    customer gets in the workspace's running experiment on that lever (assigning it now unless
    `record` is false), or None when no experiment runs there or the unit id it needs is not
    given. For a scoped lever, `scope` is the object at hand (the macro or inbox id): only an
    experiment on that object applies."""
    for experiment in running_experiments(workspace_id=workspace_id, lever=lever):
        if LEVERS[lever].scope_key and experiment_scope(experiment) != scope:
            continue
        return variant_payload(
            experiment=experiment,
            conversation_id=conversation_id,
            customer_id=customer_id,
            record=record,
        )
    return None
