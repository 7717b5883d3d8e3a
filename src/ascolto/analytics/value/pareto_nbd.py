"""Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987), the BG/NBD's older sibling.

While alive a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); her lifetime is
exponential with rate mu ~ Gamma(s, beta), so she may drop out at any moment rather than only right
after a purchase. The likelihood follows Fader & Hardie's note "A Note on Deriving the Pareto/NBD
Model and Related Expressions" (2005), with the difference of two hypergeometric terms taken in log
space. Inputs are the same x, t_x, T summaries as BG/NBD.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, gammaln, hyp2f1  # type: ignore[import-untyped]

from ascolto.analytics.value._arrays import FloatArray, InvalidInput, as_float_array
from ascolto.analytics.value._fitting import (
    customer_arrays,
    fit_log_params,
    require_finite,
    unique_rows,
)


@dataclass(frozen=True)
class ParetoNBDParams:
    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float = math.nan
    n_customers: int = 0

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.s, self.beta)


def _log_a0(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t_x: FloatArray, big_t: FloatArray
) -> FloatArray:
    """log A0, the probability-weighted "died between t_x and T" term; -inf when t_x == T."""
    c = r + s + x
    second: float | FloatArray
    if alpha >= beta:
        shift, second, base = alpha - beta, s + 1.0, alpha
    else:
        shift, second, base = beta - alpha, r + x, beta
    with np.errstate(divide="ignore", invalid="ignore"):
        at_last = np.log(hyp2f1(c, second, c + 1, shift / (base + t_x))) - c * np.log(base + t_x)
        at_now = np.log(hyp2f1(c, second, c + 1, shift / (base + big_t))) - c * np.log(base + big_t)
        result: FloatArray = at_last + np.log(-np.expm1(np.minimum(at_now - at_last, 0.0)))
    return result


def _log_likelihood_terms(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t_x: FloatArray, big_t: FloatArray
) -> FloatArray:
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive_at_t = -(r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
    died_before_t = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, t_x, big_t)
    result: FloatArray = common + np.logaddexp(alive_at_t, died_before_t)
    return result


def pareto_nbd_log_likelihood(
    params: ParetoNBDParams | tuple[float, float, float, float],
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
) -> FloatArray:
    """Per-customer log-likelihood under the Pareto/NBD."""
    r, alpha, s, beta = params.as_tuple() if isinstance(params, ParetoNBDParams) else params
    x, t_x, big_t = customer_arrays(frequency, recency, age)
    return _log_likelihood_terms(r, alpha, s, beta, x, t_x, big_t)


def fit_pareto_nbd(
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
    *,
    penalizer: float = 0.0,
) -> ParetoNBDParams:
    """Maximum-likelihood Pareto/NBD parameters; InvalidInput for an empty or unobserved cohort."""
    x, t_x, big_t = customer_arrays(frequency, recency, age)
    if len(x) == 0:
        raise InvalidInput("cannot fit a purchase model without customers")
    if not np.any(big_t > 0):
        raise InvalidInput("cannot fit a purchase model before any time has passed")
    (ux, ut, u_big_t), weights = unique_rows(x, t_x, big_t)

    def terms(r: float, alpha: float, s: float, beta: float) -> FloatArray:
        return _log_likelihood_terms(r, alpha, s, beta, ux, ut, u_big_t)

    scale = math.log(max(float(np.mean(big_t)), 1e-6))
    starts = [(0.0, scale, 0.0, scale), (math.log(0.5), scale, math.log(0.5), scale)]
    log_params = fit_log_params(terms, starts, penalizer, weights)
    r, alpha, s, beta = (float(v) for v in np.exp(log_params))
    ll = float(np.dot(weights, terms(r, alpha, s, beta)))
    params = ParetoNBDParams(
        r=r, alpha=alpha, s=s, beta=beta, log_likelihood=ll, n_customers=len(x)
    )
    horizon = float(big_t.max())
    require_finite(pareto_nbd_expected_transactions(params, [horizon]))
    require_finite(pareto_nbd_conditional_expected_transactions(params, horizon, ux, ut, u_big_t))
    return params


def _shape(params: ParetoNBDParams) -> tuple[float, float, float, float]:
    r, alpha, s, beta = params.as_tuple()
    if abs(s - 1.0) < 1e-7:
        s = 1.0 + 1e-7  # removable singularity of the (1 - ...^(s-1)) / (s-1) terms
    return r, alpha, s, beta


def pareto_nbd_expected_transactions(
    params: ParetoNBDParams, t: Iterable[float] | FloatArray | float
) -> FloatArray:
    """E[X(t)] for a newly acquired customer: r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]."""
    r, alpha, s, beta = _shape(params)
    tt = as_float_array(np.atleast_1d(np.asarray(t, dtype=float)), "t")
    if np.any(tt < 0):
        raise InvalidInput("t must not be negative")
    result: FloatArray = (
        r * beta / (alpha * (s - 1)) * -np.expm1((s - 1) * np.log(beta / (beta + tt)))
    )
    return result


def _log_alive_odds_against(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t_x: FloatArray, big_t: FloatArray
) -> FloatArray:
    result: FloatArray = (
        np.log(s)
        - np.log(r + s + x)
        + (r + x) * np.log(alpha + big_t)
        + s * np.log(beta + big_t)
        + _log_a0(r, alpha, s, beta, x, t_x, big_t)
    )
    return result


def pareto_nbd_probability_alive(
    params: ParetoNBDParams,
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
) -> FloatArray:
    """P(alive | x, t_x, T); 1 for a customer who has just bought (t_x == T)."""
    r, alpha, s, beta = _shape(params)
    x, t_x, big_t = customer_arrays(frequency, recency, age)
    result: FloatArray = expit(-_log_alive_odds_against(r, alpha, s, beta, x, t_x, big_t))
    return result


def pareto_nbd_conditional_expected_transactions(
    params: ParetoNBDParams,
    t: float,
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
) -> FloatArray:
    """E[Y(t) | x, t_x, T], expected purchases in the next t time units per customer:

    (r + x)(beta + T) / ((alpha + T)(s - 1)) [1 - ((beta + T)/(beta + T + t))^(s-1)] P(alive).
    """
    r, alpha, s, beta = _shape(params)
    if t < 0:
        raise InvalidInput("t must not be negative")
    x, t_x, big_t = customer_arrays(frequency, recency, age)
    p_alive = expit(-_log_alive_odds_against(r, alpha, s, beta, x, t_x, big_t))
    rate = (r + x) * (beta + big_t) / ((alpha + big_t) * (s - 1))
    result: FloatArray = (
        rate * -np.expm1((s - 1) * np.log((beta + big_t) / (beta + big_t + t))) * p_alive
    )
    return result
