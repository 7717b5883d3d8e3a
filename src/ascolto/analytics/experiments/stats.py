"""Experiment statistics: pure functions, numbers in and numbers out.

- `two_proportion_test`: z-test with the pooled standard error, Wald interval for the difference
  (unpooled), relative lift.
- `welch_test`: Welch's t-test, Welch-Satterthwaite degrees of freedom, interval for the
  difference of means.
- `sample_size_proportions` / `sample_size_means`: units per variant for a fixed design (normal
  approximation, two-sided).
- `msprt`: the mixture sequential probability ratio test (Johari, Koomen, Pekelis & Walsh,
  "Always valid inference", 2017/2022) with its always-valid p-value; see
  docs/decisions/0008-experiments.md.
- `srm_check`: the chi-square goodness-of-fit test of assignment counts against the weights.

Differences are always "treatment minus control". Inputs that leave a figure undefined (an
empty variant, a zero standard error) give None for that figure rather than raising.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats  # type: ignore[import-untyped]

SRM_ALPHA = 0.001


def normal_quantile(q: float) -> float:
    return float(stats.norm.ppf(q))


@dataclass(frozen=True)
class Comparison:
    """Treatment against control on one metric."""

    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    statistic: float | None
    relative_lift: float | None
    df: float | None = None


EMPTY = Comparison(None, None, None, None, None, None)


def _lift(control: float, treatment: float) -> float | None:
    return None if control == 0 else treatment / control - 1.0


def two_proportion_test(
    *, x_control: int, n_control: int, x_treatment: int, n_treatment: int, alpha: float = 0.05
) -> Comparison:
    """Two-sided z-test of p_treatment - p_control. The test uses the pooled standard error
    (the null says the rates are equal); the 1-alpha interval uses the unpooled one. When both
    rates are 0 or both 1 there is no variation: the difference is 0 and p is 1."""
    if n_control <= 0 or n_treatment <= 0:
        return EMPTY
    p1, p2 = x_control / n_control, x_treatment / n_treatment
    diff = p2 - p1
    pooled = (x_control + x_treatment) / (n_control + n_treatment)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_treatment))
    se = math.sqrt(p1 * (1 - p1) / n_control + p2 * (1 - p2) / n_treatment)
    half = normal_quantile(1 - alpha / 2) * se
    if se0 == 0:
        z, p = 0.0, 1.0
    else:
        z = diff / se0
        p = float(2 * stats.norm.sf(abs(z)))
    return Comparison(diff, diff - half, diff + half, p, z, _lift(p1, p2))


def welch_test(
    *,
    n_control: int,
    mean_control: float,
    var_control: float,
    n_treatment: int,
    mean_treatment: float,
    var_treatment: float,
    alpha: float = 0.05,
) -> Comparison:
    """Welch's two-sided t-test of mean_treatment - mean_control from sample variances (ddof
    1). Needs two units per variant. With zero variance in both, the difference is certain:
    p is 1 when the means are equal and 0 otherwise, the interval is the difference itself."""
    if n_control < 2 or n_treatment < 2:
        return EMPTY
    diff = mean_treatment - mean_control
    a, b = var_control / n_control, var_treatment / n_treatment
    se = math.sqrt(a + b)
    lift = _lift(mean_control, mean_treatment)
    if se == 0:
        return Comparison(diff, diff, diff, 1.0 if diff == 0 else 0.0, None, lift)
    df = (a + b) ** 2 / (a**2 / (n_control - 1) + b**2 / (n_treatment - 1))
    t = diff / se
    p = float(2 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    return Comparison(diff, diff - half, diff + half, p, t, lift, df)


def sample_size_proportions(
    *, baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Units per variant to detect an absolute change `mde` from the `baseline` rate:
    n = (z_{1-a/2} sqrt(2 p̄ q̄) + z_{power} sqrt(p1 q1 + p2 q2))² / mde², p̄ the mean rate."""
    p1, p2 = baseline, baseline + mde
    if not (0 < p1 < 1 and 0 < p2 < 1) or mde == 0:
        raise ValueError("baseline and baseline + mde must be rates strictly between 0 and 1")
    bar = (p1 + p2) / 2
    root = normal_quantile(1 - alpha / 2) * math.sqrt(2 * bar * (1 - bar)) + normal_quantile(
        power
    ) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / mde**2)


def sample_size_means(*, sd: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Units per variant to detect a change `mde` of a mean with standard deviation `sd`:
    n = 2 (z_{1-a/2} + z_{power})² sd² / mde²."""
    if sd <= 0 or mde == 0:
        raise ValueError("sd must be positive and mde non-zero")
    return math.ceil(
        2 * (normal_quantile(1 - alpha / 2) + normal_quantile(power)) ** 2 * sd**2 / mde**2
    )


@dataclass(frozen=True)
class Look:
    """One interim look of the sequential test: the mixture likelihood ratio and the
    always-valid p-value (the running minimum of 1/ratio over the looks so far)."""

    n: int
    difference: float
    likelihood_ratio: float
    p_value: float


def msprt_ratio(*, difference: float, variance: float, tau2: float) -> float:
    """Normal-mixture likelihood ratio for an observed difference with sampling variance
    `variance`, mixing the effect over N(0, tau2):
    sqrt(V / (V + tau2)) * exp(diff² tau2 / (2 V (V + tau2)))."""
    if variance <= 0:
        return 1.0 if difference == 0 else math.inf
    exponent = difference**2 * tau2 / (2 * variance * (variance + tau2))
    return math.sqrt(variance / (variance + tau2)) * math.exp(min(exponent, 700.0))


def msprt(looks: Sequence[tuple[int, float, float]], *, tau2: float) -> list[Look]:
    """The always-valid p-value path over looks given as (units so far, difference, sampling
    variance of the difference). p_n = min(1, p_{n-1}, 1 / ratio_n): stopping the first time
    it drops below alpha keeps the false-positive rate at most alpha however often one looks."""
    path: list[Look] = []
    p = 1.0
    for n, diff, variance in looks:
        ratio = msprt_ratio(difference=diff, variance=variance, tau2=tau2)
        p = min(p, 1.0 / ratio if ratio > 0 else 1.0)
        path.append(Look(n, diff, ratio, p))
    return path


def proportion_variance(*, x1: int, n1: int, x2: int, n2: int) -> float:
    p1, p2 = x1 / n1, x2 / n2
    return p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2


@dataclass(frozen=True)
class Srm:
    chi2: float
    p_value: float
    mismatch: bool


def srm_check(counts: Sequence[int], weights: Sequence[float]) -> Srm | None:
    """Sample ratio mismatch: chi-square of the assignment counts against the counts the
    weights expect. A p-value below 0.001 means assignment (or its recording) is broken and
    the results should not be trusted. None with no units yet."""
    total = sum(counts)
    weight_sum = sum(weights)
    if total == 0 or len(counts) < 2 or weight_sum <= 0:
        return None
    expected = [total * w / weight_sum for w in weights]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True) if e > 0)
    p = float(stats.chi2.sf(chi2, len(counts) - 1))
    return Srm(chi2, p, p < SRM_ALPHA)
