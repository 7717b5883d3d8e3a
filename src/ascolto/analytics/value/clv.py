"""Customer lifetime value: BG/NBD purchase counts with Gamma-Gamma spend per purchase.

BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way", Marketing Science 24(2)):
while alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after every
purchase she drops out with probability p ~ Beta(a, b). Each customer is summarised by
x (repeat purchases), t_x (time of the last purchase) and T (time since the first purchase), all
measured from her first purchase, in one time unit (weeks by default).

Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value"): a purchase's value
is Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers; it is fitted on the mean value of each
customer's repeat purchases and assumes spend is independent of purchase frequency.

Every function takes plain sequences or numpy arrays and returns numpy arrays; nothing here knows
about the database. Probabilities and expectations are computed in log space where the closed forms
overflow, and the Gaussian hypergeometric function comes from scipy.special.hyp2f1.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy import integrate  # type: ignore[import-untyped]
from scipy.special import (  # type: ignore[import-untyped]
    betainc,
    betaln,
    expit,
    gammaln,
    hyp2f1,
)

from ascolto.analytics.value._arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    InvalidInput,
    as_float_array,
    same_length,
)
from ascolto.analytics.value._fitting import (
    THIN_HISTORY,
    customer_arrays,
    fit_log_params,
    require_finite,
    unique_rows,
)
from ascolto.analytics.value.pareto_nbd import (
    ParetoNBDParams,
    pareto_nbd_conditional_expected_transactions,
    pareto_nbd_expected_transactions,
    pareto_nbd_probability_alive,
)

DAYS_PER_WEEK = 7.0
WEEKS_PER_MONTH = 365.25 / 12 / 7


@dataclass(frozen=True)
class BGNBDParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = math.nan
    n_customers: int = 0

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float
    log_likelihood: float = math.nan
    n_customers: int = 0

    @property
    def population_mean_value(self) -> float:
        """Mean purchase value across customers, p * gamma / (q - 1); infinite when q <= 1."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else math.inf


@dataclass(frozen=True)
class PurchaseSummary:
    """Per-customer BG/NBD inputs over a calibration window, plus the holdout outcome.

    Arrays are aligned with `customer_ids` (in order of first appearance in the input). Times are in
    model units (weeks by default) measured from each customer's first purchase, except
    `first_purchase`, which is measured from the origin of the input times.
    """

    customer_ids: list[Hashable]
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    first_purchase: FloatArray
    mean_repeat_value: FloatArray
    holdout_frequency: FloatArray


# --- purchase histories -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Occasions:
    ids: list[Hashable]
    customer: IntArray  # index into ids, one row per purchase occasion, sorted by customer, day
    day: IntArray
    value: FloatArray
    is_first: BoolArray


def _occasions(
    customer_ids: Iterable[Hashable],
    times: Iterable[float] | FloatArray,
    values: Iterable[float] | FloatArray | None,
) -> _Occasions:
    """Collapse purchases into occasions: all purchases of a customer on one day count as one."""
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(key, len(index)) for key in customer_ids), dtype=np.int64)
    time_array = as_float_array(times, "times")
    value_array = np.zeros(len(time_array)) if values is None else as_float_array(values, "values")
    same_length(customer_ids=codes.astype(float), times=time_array, values=value_array)
    days = np.floor(time_array).astype(np.int64)
    order = np.lexsort((days, codes))
    codes, days, value_array = codes[order], days[order], value_array[order]
    if len(codes) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Occasions([], empty, empty, np.zeros(0), np.zeros(0, dtype=bool))
    starts = np.flatnonzero(
        np.concatenate(([True], (codes[1:] != codes[:-1]) | (days[1:] != days[:-1])))
    )
    occasion_customer = codes[starts]
    occasion_day = days[starts]
    occasion_value = np.add.reduceat(value_array, starts)
    is_first = np.concatenate(([True], occasion_customer[1:] != occasion_customer[:-1]))
    return _Occasions(list(index), occasion_customer, occasion_day, occasion_value, is_first)


def summarise_purchases(
    customer_ids: Iterable[Hashable],
    times: Iterable[float] | FloatArray,
    values: Iterable[float] | FloatArray | None = None,
    *,
    calibration_end: float,
    holdout_end: float | None = None,
    unit: float = DAYS_PER_WEEK,
) -> PurchaseSummary:
    """Summarise a purchase log (one row per purchase) into x, t_x and T per customer.

    `times` are in days from any origin (fractions allowed); purchases of one customer on the same
    day form one purchase occasion, their values summed. Only customers whose first purchase is on
    or before `calibration_end` are returned. Repeat occasions after `calibration_end` and up to
    `holdout_end` (inclusive) are counted in `holdout_frequency`. `unit` is the model time unit in
    days (7 = weeks, the unit of the published CDNOW fits).
    """
    if unit <= 0:
        raise InvalidInput("unit must be positive")
    occ = _occasions(customer_ids, times, values)
    n = len(occ.ids)
    first_day = np.zeros(n)
    first_day[occ.customer[occ.is_first]] = occ.day[occ.is_first]
    repeat = ~occ.is_first
    in_calibration = repeat & (occ.day <= calibration_end)
    frequency = np.bincount(occ.customer[in_calibration], minlength=n).astype(float)
    last_day = first_day.copy()
    np.maximum.at(last_day, occ.customer[in_calibration], occ.day[in_calibration])
    repeat_value = np.bincount(
        occ.customer[in_calibration], weights=occ.value[in_calibration], minlength=n
    )
    mean_repeat_value = np.divide(repeat_value, frequency, out=np.zeros(n), where=frequency > 0)
    if holdout_end is None:
        holdout = np.zeros(n)
    else:
        in_holdout = repeat & (occ.day > calibration_end) & (occ.day <= holdout_end)
        holdout = np.bincount(occ.customer[in_holdout], minlength=n).astype(float)
    cohort = np.flatnonzero(first_day <= calibration_end)
    return PurchaseSummary(
        customer_ids=[occ.ids[i] for i in cohort],
        frequency=frequency[cohort],
        recency=(last_day[cohort] - first_day[cohort]) / unit,
        age=(calibration_end - first_day[cohort]) / unit,
        first_purchase=first_day[cohort] / unit,
        mean_repeat_value=mean_repeat_value[cohort],
        holdout_frequency=holdout[cohort],
    )


def cumulative_repeat_purchases(
    customer_ids: Iterable[Hashable],
    times: Iterable[float] | FloatArray,
    period_ends: Iterable[float] | FloatArray,
    *,
    cohort_end: float | None = None,
) -> FloatArray:
    """Count repeat purchase occasions on or before each of `period_ends` (days, like `times`).

    A customer's first occasion is her trial, not a repeat. With `cohort_end`, only customers whose
    first purchase is on or before it are counted (the cohort a BG/NBD model was fitted on).
    """
    occ = _occasions(customer_ids, times, None)
    ends = as_float_array(period_ends, "period_ends")
    first_day = np.zeros(len(occ.ids))
    first_day[occ.customer[occ.is_first]] = occ.day[occ.is_first]
    keep = ~occ.is_first
    if cohort_end is not None:
        keep &= first_day[occ.customer] <= cohort_end
    repeat_days = np.sort(occ.day[keep])
    return np.searchsorted(repeat_days, ends, side="right").astype(float)


# --- BG/NBD -------------------------------------------------------------------------------------


def _bgnbd_log_likelihood_terms(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, big_t: FloatArray
) -> FloatArray:
    """Log-likelihood of each customer (FHL 2005, eq. 6), evaluated as a log-sum-exp."""
    trial = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    dropout = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    still_alive = -(r + x) * np.log(alpha + big_t)
    buyer = x > 0
    safe_x = np.where(buyer, x, 1.0)
    dropped_after_last = np.where(
        buyer,
        np.log(a) - np.log(b + safe_x - 1) - (r + safe_x) * np.log(alpha + t_x),
        -np.inf,
    )
    result: FloatArray = trial + dropout + np.logaddexp(still_alive, dropped_after_last)
    return result


def bgnbd_log_likelihood(
    params: BGNBDParams | tuple[float, float, float, float],
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
) -> FloatArray:
    """Per-customer log-likelihood under BG/NBD; sum it for the sample log-likelihood."""
    r, alpha, a, b = params.as_tuple() if isinstance(params, BGNBDParams) else params
    x, t_x, big_t = customer_arrays(frequency, recency, age)
    return _bgnbd_log_likelihood_terms(r, alpha, a, b, x, t_x, big_t)


def fit_bgnbd(
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
    *,
    penalizer: float = 0.0,
) -> BGNBDParams:
    """Maximum-likelihood BG/NBD parameters for a cohort of customers.

    `penalizer` adds an L2 penalty on the parameters, useful when a workspace has little history
    and the unpenalised optimum runs off to huge a and b. Raises InvalidInput for an empty cohort or
    a cohort whose ages are all zero (nothing has been observed yet).
    """
    x, t_x, big_t = customer_arrays(frequency, recency, age)
    if len(x) == 0:
        raise InvalidInput("cannot fit a purchase model without customers")
    if not np.any(big_t > 0):
        raise InvalidInput("cannot fit a purchase model before any time has passed")
    (ux, ut, uT), weights = unique_rows(x, t_x, big_t)

    def terms(r: float, alpha: float, a: float, b: float) -> FloatArray:
        return _bgnbd_log_likelihood_terms(r, alpha, a, b, ux, ut, uT)

    scale = math.log(max(float(np.mean(big_t)), 1e-6))
    starts = [(0.0, scale, 0.0, 0.0), (math.log(0.3), scale, math.log(0.8), math.log(2.5))]
    log_params = fit_log_params(terms, starts, penalizer, weights)
    r, alpha, a, b = (float(v) for v in np.exp(log_params))
    ll = float(np.dot(weights, terms(r, alpha, a, b)))
    params = BGNBDParams(r=r, alpha=alpha, a=a, b=b, log_likelihood=ll, n_customers=len(x))
    horizon = float(big_t.max())
    require_finite(bgnbd_expected_transactions(params, [horizon]))
    require_finite(bgnbd_conditional_expected_transactions(params, horizon, ux, ut, uT))
    return params


def _params(params: BGNBDParams) -> tuple[float, float, float, float]:
    r, alpha, a, b = params.as_tuple()
    if abs(a - 1.0) < 1e-7:
        # (a + b - 1) / (a - 1) has a removable singularity at a = 1; step off it.
        a = 1.0 + 1e-7
    return r, alpha, a, b


def _expected_transactions_quadrature(
    r: float, alpha: float, a: float, b: float, t: FloatArray
) -> FloatArray:
    """E[X(t)] by adaptive quadrature over the dropout probability p ~ Beta(a, b).

    Given p, E[X(t) | p] = (1 - (alpha / (alpha + p t))^r) / p, smooth on [0, 1]; QUADPACK's
    algebraic weight takes the Beta density's end-point singularities exactly. Slower than the
    closed form, so used only where its hypergeometric series is ill-conditioned (a + b <= 1, or
    extreme fits on very little data).
    """
    norm = float(np.exp(betaln(a, b)))

    def given_p(p: float, elapsed: float) -> float:
        if p <= 0.0:
            return r * elapsed / alpha
        return float(-np.expm1(-r * np.log1p(p * elapsed / alpha)) / p)

    def integral(elapsed: float) -> float:
        result = integrate.quad(
            given_p, 0.0, 1.0, args=(elapsed,), weight="alg", wvar=(a - 1, b - 1)
        )
        return float(result[0])

    with warnings.catch_warnings():
        # Near-degenerate Beta weights make QUADPACK report round-off it has already bounded.
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        values = [integral(float(e)) for e in t]
    return np.asarray(values, dtype=float) / norm


def bgnbd_expected_transactions(
    params: BGNBDParams, t: Iterable[float] | FloatArray | float
) -> FloatArray:
    """E[X(t)]: expected purchases in a period of length t by a newly acquired customer (eq. 9)."""
    r, alpha, a, b = _params(params)
    tt = as_float_array(np.atleast_1d(np.asarray(t, dtype=float)), "t")
    if np.any(tt < 0):
        raise InvalidInput("t must not be negative")
    with np.errstate(all="ignore"):
        closed = (
            (a + b - 1)
            / (a - 1)
            * (
                1
                - np.exp(r * np.log(alpha / (alpha + tt)))
                * hyp2f1(r, b, a + b - 1, tt / (alpha + tt))
            )
        )
    bad = ~np.isfinite(closed) | (closed < 0) | (a + b - 1 <= 0)
    if np.any(bad):
        closed[bad] = _expected_transactions_quadrature(r, alpha, a, b, tt[bad])
    result: FloatArray = closed
    return result


def _log_alive_odds_against(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, big_t: FloatArray
) -> FloatArray:
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x); -inf when x = 0 (no chance to drop yet)."""
    buyer = x > 0
    safe_x = np.where(buyer, x, 1.0)
    odds = (
        np.log(a)
        - np.log(b + safe_x - 1)
        + (r + safe_x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    )
    result: FloatArray = np.where(buyer, odds, -np.inf)
    return result


def bgnbd_probability_alive(
    params: BGNBDParams,
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
) -> FloatArray:
    """P(alive | x, t_x, T) (FHL 2005, eq. 12); 1 for a customer with no repeat purchase yet."""
    r, alpha, a, b = _params(params)
    x, t_x, big_t = customer_arrays(frequency, recency, age)
    result: FloatArray = expit(-_log_alive_odds_against(r, alpha, a, b, x, t_x, big_t))
    return result


def bgnbd_conditional_expected_transactions(
    params: BGNBDParams,
    t: float,
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next t time units per customer (eq. 10).

    The hypergeometric term is evaluated after Euler's transformation, with z = t / (alpha + T + t):
        ((alpha + T) / (alpha + T + t))^(r+x) 2F1(r + x, b + x; a + b + x - 1; z)
        = (1 - z)^(a-1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z),
    which keeps the series well conditioned for heavy buyers.
    """
    r, alpha, a, b = _params(params)
    if t < 0:
        raise InvalidInput("t must not be negative")
    x, t_x, big_t = customer_arrays(frequency, recency, age)
    z = t / (alpha + big_t + t)
    with np.errstate(all="ignore"):
        tail = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        alive_part = (a + b + x - 1) / (a - 1) * (1 - tail)
    p_alive = expit(-_log_alive_odds_against(r, alpha, a, b, x, t_x, big_t))
    result: FloatArray = alive_part * p_alive
    return result


def bgnbd_probability_of_purchases(
    params: BGNBDParams, t: float, n: Iterable[float] | FloatArray
) -> FloatArray:
    """P(X(t) = n) for a newly acquired customer (FHL 2005, eq. 8), for each n in `n`."""
    r, alpha, a, b = params.as_tuple()
    counts = as_float_array(n, "n")
    if np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise InvalidInput("n must be whole numbers, zero or more")
    if t < 0:
        raise InvalidInput("t must not be negative")
    if t == 0:
        result0: FloatArray = (counts == 0).astype(float)
        return result0
    log_p0 = math.log(alpha / (alpha + t))
    log_p1 = math.log(t / (alpha + t))
    alive_all_along = np.exp(
        betaln(a, b + counts)
        - betaln(a, b)
        + gammaln(r + counts)
        - gammaln(r)
        - gammaln(counts + 1)
        + r * log_p0
        + counts * log_p1
    )
    safe = np.where(counts > 0, counts, 1.0)
    # 1 - sum_{j<n} NBD(j) is the NBD tail P(N >= n), the regularised incomplete beta I_z(n, r).
    dropped = np.where(
        counts > 0,
        np.exp(betaln(a + 1, b + safe - 1) - betaln(a, b)) * betainc(safe, r, t / (alpha + t)),
        0.0,
    )
    result: FloatArray = alive_all_along + dropped
    return result


PurchaseModel = BGNBDParams | ParetoNBDParams


def expected_transactions(
    model: PurchaseModel, t: Iterable[float] | FloatArray | float
) -> FloatArray:
    """E[X(t)] for a newly acquired customer under either purchase model."""
    if isinstance(model, ParetoNBDParams):
        return pareto_nbd_expected_transactions(model, t)
    return bgnbd_expected_transactions(model, t)


def conditional_expected_transactions(
    model: PurchaseModel,
    t: float,
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
) -> FloatArray:
    """E[Y(t) | x, t_x, T] per customer under either purchase model."""
    if isinstance(model, ParetoNBDParams):
        return pareto_nbd_conditional_expected_transactions(model, t, frequency, recency, age)
    return bgnbd_conditional_expected_transactions(model, t, frequency, recency, age)


def probability_alive(
    model: PurchaseModel,
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
) -> FloatArray:
    """P(alive | x, t_x, T) per customer under either purchase model."""
    if isinstance(model, ParetoNBDParams):
        return pareto_nbd_probability_alive(model, frequency, recency, age)
    return bgnbd_probability_alive(model, frequency, recency, age)


def expected_cumulative_repeat_purchases(
    model: PurchaseModel,
    first_purchase: Iterable[float] | FloatArray,
    period_ends: Iterable[float] | FloatArray,
) -> FloatArray:
    """Expected repeat purchases of a cohort up to each period end (FHL 2005, Figure 4 tracking).

    Customer i, acquired at `first_purchase[i]`, contributes E[X(end - first_purchase[i])] once
    acquired. All times in model units from the same origin.
    """
    starts = as_float_array(first_purchase, "first_purchase")
    ends = as_float_array(period_ends, "period_ends")
    unique_starts, counts = np.unique(starts, return_counts=True)
    elapsed = np.clip(ends[:, None] - unique_starts[None, :], 0.0, None)
    expected = expected_transactions(model, elapsed.ravel()).reshape(elapsed.shape)
    result: FloatArray = expected @ counts.astype(float)
    return result


# --- Gamma-Gamma --------------------------------------------------------------------------------


def _spend_arrays(
    frequency: Iterable[float] | FloatArray, mean_value: Iterable[float] | FloatArray
) -> tuple[FloatArray, FloatArray]:
    x = as_float_array(frequency, "frequency")
    m = as_float_array(mean_value, "mean_value")
    same_length(frequency=x, mean_value=m)
    if np.any(x < 0):
        raise InvalidInput("frequency must not be negative")
    if np.any(m < 0):
        raise InvalidInput("mean_value must not be negative")
    return x, m


def gamma_gamma_log_likelihood(
    params: GammaGammaParams | tuple[float, float, float],
    frequency: Iterable[float] | FloatArray,
    mean_value: Iterable[float] | FloatArray,
) -> FloatArray:
    """Per-customer log density of the observed mean value given x purchases (x >= 1, m > 0)."""
    p, q, gamma = (
        (params.p, params.q, params.gamma) if isinstance(params, GammaGammaParams) else params
    )
    x, m = _spend_arrays(frequency, mean_value)
    if np.any(x < 1) or np.any(m <= 0):
        raise InvalidInput("the spend model needs at least one purchase of positive value")
    return _gamma_gamma_terms(p, q, gamma, x, m)


def _gamma_gamma_terms(
    p: float, q: float, gamma: float, x: FloatArray, m: FloatArray
) -> FloatArray:
    px = p * x
    result: FloatArray = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * m)
    )
    return result


def fit_gamma_gamma(
    frequency: Iterable[float] | FloatArray,
    mean_value: Iterable[float] | FloatArray,
    *,
    penalizer: float = 0.0,
) -> GammaGammaParams:
    """Fit the spend model on customers with at least one repeat purchase of positive value.

    Customers with x = 0 or a zero mean value carry no spend information and are left out.
    Raises InvalidInput when nobody is left.
    """
    x, m = _spend_arrays(frequency, mean_value)
    usable = (x >= 1) & (m > 0)
    if not np.any(usable):
        raise InvalidInput("cannot fit the spend model without repeat purchases of positive value")
    (ux, um), weights = unique_rows(x[usable], m[usable])

    def terms(p: float, q: float, gamma: float) -> FloatArray:
        return _gamma_gamma_terms(p, q, gamma, ux, um)

    scale = math.log(max(float(np.mean(um)), 1e-6))
    starts = [(0.0, 0.0, scale), (math.log(5.0), math.log(3.0), scale)]
    log_params = fit_log_params(terms, starts, penalizer, weights)
    p, q, gamma = (float(v) for v in np.exp(log_params))
    if q <= 1.0:
        # With q <= 1 the population mean spend is infinite: no usable value per purchase.
        raise InvalidInput(THIN_HISTORY)
    ll = float(np.dot(weights, terms(p, q, gamma)))
    return GammaGammaParams(p=p, q=q, gamma=gamma, log_likelihood=ll, n_customers=int(usable.sum()))


def gamma_gamma_expected_value(
    params: GammaGammaParams,
    frequency: Iterable[float] | FloatArray,
    mean_value: Iterable[float] | FloatArray,
) -> FloatArray:
    """E[M | x, m_x]: expected value of a customer's future purchase (Fader & Hardie 2013, eq. 5).

    A weighted average of the population mean and the customer's own mean, shifting towards her own
    with every purchase; a customer with x = 0 gets the population mean.
    """
    x, m = _spend_arrays(frequency, mean_value)
    p, q, gamma = params.p, params.q, params.gamma
    result: FloatArray = p * (gamma + x * m) / (p * x + q - 1)
    return result


# --- lifetime value -----------------------------------------------------------------------------


def customer_lifetime_value(
    purchases: PurchaseModel,
    spend: GammaGammaParams,
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
    mean_value: Iterable[float] | FloatArray,
    *,
    periods: int = 12,
    period_length: float = WEEKS_PER_MONTH,
    discount_rate: float = 0.01,
    margin: float = 1.0,
) -> FloatArray:
    """Discounted expected value of each customer's purchases over the next `periods` periods.

    CLV = sum_k margin * E[M] * (E[Y(k L)] - E[Y((k-1) L)]) / (1 + d)^k, with L = `period_length`
    in model units (a month of weeks by default) and d the discount rate per period (1% a month is
    about 12.7% a year). Raises InvalidInput for a negative rate, margin or horizon.
    """
    if periods < 0 or period_length <= 0:
        raise InvalidInput("the horizon must be a positive number of periods")
    if discount_rate <= -1 or margin < 0:
        raise InvalidInput("discount rate must exceed -100% and margin must not be negative")
    x, t_x, big_t = customer_arrays(frequency, recency, age)
    spend_x, m = _spend_arrays(x, mean_value)
    value_per_purchase = gamma_gamma_expected_value(spend, spend_x, m)
    cumulative = np.column_stack(
        [np.zeros(len(x))]
        + [
            conditional_expected_transactions(purchases, k * period_length, x, t_x, big_t)
            for k in range(1, periods + 1)
        ]
    )
    per_period = np.diff(cumulative, axis=1)
    discount = (1.0 + discount_rate) ** -np.arange(1, periods + 1)
    result: FloatArray = margin * value_per_purchase * (per_period @ discount)
    return result
