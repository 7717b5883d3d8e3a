"""Pareto/NBD against one-dimensional integrals that avoid the hypergeometric closed form."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from ascolto.analytics.value import clv
from ascolto.analytics.value.pareto_nbd import (
    ParetoNBDParams,
    fit_pareto_nbd,
    pareto_nbd_conditional_expected_transactions,
    pareto_nbd_expected_transactions,
    pareto_nbd_log_likelihood,
    pareto_nbd_probability_alive,
)

# One parameter set with alpha > beta and one with alpha < beta: the likelihood takes two branches.
PARAMS = [
    ParetoNBDParams(r=0.55, alpha=10.6, s=0.6, beta=11.7),
    ParetoNBDParams(r=0.9, alpha=3.0, s=1.4, beta=20.0),
    ParetoNBDParams(r=0.9, alpha=25.0, s=0.4, beta=5.0),
]
CUSTOMERS = [(0, 0.0, 30.0), (1, 10.0, 30.0), (4, 29.0, 39.0), (12, 20.0, 39.0)]


def alive_and_died_terms(params, x, t_x, big_t):
    """Likelihood pieces: alive at T, and died at some tau in (t_x, T), integrated over tau."""
    r, alpha, s, beta = params.as_tuple()
    front = math.gamma(r + x) * alpha**r / math.gamma(r)
    alive = front * (alpha + big_t) ** -(r + x) * (beta / (beta + big_t)) ** s

    def died_at(tau):
        return front * (alpha + tau) ** -(r + x) * s * beta**s * (beta + tau) ** -(s + 1)

    died = integrate.quad(died_at, t_x, big_t, epsabs=0, epsrel=1e-11)[0]
    return alive, died


@pytest.mark.parametrize("params", PARAMS)
def test_log_likelihood_matches_integration_over_the_time_of_death(params):
    x, t_x, big_t = (list(column) for column in zip(*CUSTOMERS, strict=True))

    ll = pareto_nbd_log_likelihood(params, x, t_x, big_t)

    expected = [math.log(sum(alive_and_died_terms(params, *c))) for c in CUSTOMERS]
    assert ll == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("params", PARAMS)
def test_probability_alive_matches_integration(params):
    x, t_x, big_t = (list(column) for column in zip(*CUSTOMERS, strict=True))

    p_alive = pareto_nbd_probability_alive(params, x, t_x, big_t)

    expected = []
    for customer in CUSTOMERS:
        alive, died = alive_and_died_terms(params, *customer)
        expected.append(alive / (alive + died))
    assert p_alive == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("params", PARAMS)
def test_conditional_expectation_matches_integration_over_the_dropout_rate(params):
    r, alpha, s, beta = params.as_tuple()
    x, t_x, big_t, t = 4, 29.0, 39.0, 26.0

    def per_mu(mu):
        return -math.expm1(-mu * t) / mu * stats.gamma.pdf(mu, s, scale=1 / (beta + big_t))

    alive, died = alive_and_died_terms(params, x, t_x, big_t)
    expected = (r + x) / (alpha + big_t) * integrate.quad(per_mu, 0, np.inf)[0]
    expected *= alive / (alive + died)

    computed = pareto_nbd_conditional_expected_transactions(params, t, [x], [t_x], [big_t])

    assert computed[0] == pytest.approx(expected, rel=1e-7)


def test_expected_transactions_match_integration_over_the_dropout_rate():
    params = PARAMS[0]
    r, alpha, s, beta = params.as_tuple()
    times = [1.0, 39.0, 78.0]

    def per_mu(mu, t):
        return -math.expm1(-mu * t) / mu * stats.gamma.pdf(mu, s, scale=1 / beta)

    expected = [r / alpha * integrate.quad(per_mu, 0, np.inf, args=(t,))[0] for t in times]

    assert pareto_nbd_expected_transactions(params, times) == pytest.approx(expected, rel=1e-7)
    assert clv.expected_transactions(params, times) == pytest.approx(expected, rel=1e-7)


def test_fit_recovers_simulated_parameters_roughly():
    rng = np.random.default_rng(3)
    n, big_t = 4000, 40.0
    rates = rng.gamma(0.8, 1 / 4.0, n)
    lifetimes = rng.exponential(1 / rng.gamma(0.7, 1 / 10.0, n))
    frequency, recency = np.zeros(n), np.zeros(n)
    for i in range(n):
        end = min(lifetimes[i], big_t)
        arrivals = np.cumsum(rng.exponential(1 / rates[i], 200))
        bought = arrivals[arrivals <= end]
        frequency[i], recency[i] = len(bought), (bought[-1] if len(bought) else 0.0)

    fitted = fit_pareto_nbd(frequency, recency, np.full(n, big_t))

    assert fitted.r == pytest.approx(0.8, rel=0.2)
    assert fitted.alpha == pytest.approx(4.0, rel=0.25)
    assert fitted.s == pytest.approx(0.7, rel=0.35)
    assert fitted.beta == pytest.approx(10.0, rel=0.5)
