"""Shared pieces of the purchase and spend models: input checks and maximum-likelihood fitting."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from scipy.optimize import minimize  # type: ignore[import-untyped]

from ascolto.analytics.value._arrays import FloatArray, InvalidInput, as_float_array, same_length

# Bounds on the log of every parameter while fitting: wide enough for any real data set, narrow
# enough that the optimiser cannot wander into overflow when a workspace has very little history.
_LOG_BOUND = 15.0
# An optimum this close to the upper bound (in log units) means the likelihood keeps rising as
# a parameter grows without end: the data do not pin it down (e.g. customers who bought every
# week and never stopped say nothing about dropping out), so the fit is refused, not reported.
# (A parameter running to zero is a real limit, e.g. nobody drops out, and is kept.)
_AT_BOUND = 0.5


def customer_arrays(
    frequency: Iterable[float] | FloatArray,
    recency: Iterable[float] | FloatArray,
    age: Iterable[float] | FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate x (repeat purchases), t_x (last purchase) and T (age); t_x is 0 when x is 0."""
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    big_t = as_float_array(age, "age")
    same_length(frequency=x, recency=t_x, age=big_t)
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise InvalidInput("frequency must be whole numbers of repeat purchases, zero or more")
    if np.any(t_x < 0) or np.any(big_t < 0):
        raise InvalidInput("recency and age must not be negative")
    if np.any(t_x > big_t * (1 + 1e-9) + 1e-12):
        raise InvalidInput("recency cannot exceed age (the last purchase is before now)")
    return x, np.where(x > 0, t_x, 0.0), big_t


def unique_rows(*columns: FloatArray) -> tuple[list[FloatArray], FloatArray]:
    """Collapse identical customers into weighted rows: the log-likelihood only needs each once."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


def fit_log_params(
    terms: Callable[..., FloatArray],
    starts: Sequence[Sequence[float]],
    penalizer: float,
    weights: FloatArray,
) -> FloatArray:
    """Maximise a weighted mean log-likelihood over log-parameters from several starts.

    `terms(*params)` returns the log-likelihood of each (weighted) row. Each start runs L-BFGS-B
    within wide bounds, then Nelder-Mead polishes the optimum; the best end point wins. Raises
    InvalidInput (THIN_HISTORY) when a parameter ends at the upper bound.
    """
    total = float(weights.sum())

    def negative_mean_ll(log_params: FloatArray) -> float:
        # Far from the optimum the special functions overflow; such points simply lose.
        with np.errstate(all="ignore"):
            params = np.exp(log_params)
            ll = terms(*params)
            value = -float(np.dot(weights, ll)) / total + penalizer * float(np.sum(params**2))
        return value if math.isfinite(value) else 1e300

    best_x: FloatArray | None = None
    best_value = math.inf
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    for start in starts:
        result = minimize(
            negative_mean_ll, np.asarray(start, dtype=float), method="L-BFGS-B", bounds=bounds
        )
        polished = minimize(
            negative_mean_ll,
            result.x,
            method="Nelder-Mead",
            bounds=bounds,
            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000},
        )
        candidate = polished if polished.fun <= result.fun else result
        if candidate.fun < best_value:
            best_value = float(candidate.fun)
            best_x = np.asarray(candidate.x, dtype=float)
    assert best_x is not None
    if np.any(best_x >= _LOG_BOUND - _AT_BOUND):
        raise InvalidInput(THIN_HISTORY)
    return best_x


THIN_HISTORY = (
    "the purchase history is too thin or too uniform to estimate the model; "
    "fit with a penalizer (for example 0.01) or wait for more history"
)


def require_finite(values: FloatArray) -> None:
    """Refuse a fit whose own predictions overflow: the data could not pin the parameters down."""
    if not np.all(np.isfinite(values)):
        raise InvalidInput(THIN_HISTORY)
