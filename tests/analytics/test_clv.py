"""BG/NBD, Gamma-Gamma and lifetime value against hand computations and independent integrals."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from ascolto.analytics.value import InvalidInput, clv

PARAMS = clv.BGNBDParams(r=0.5, alpha=2.0, a=0.8, b=3.0)


def beta_fn(a, b):
    return math.gamma(a) * math.gamma(b) / math.gamma(a + b)


def hand_likelihood(r, alpha, a, b, x, t_x, big_t):
    """FHL 2005 eq. 6 written out in plain (not log) arithmetic."""
    front = beta_fn(a, b + x) / beta_fn(a, b) * math.gamma(r + x) * alpha**r / math.gamma(r)
    alive = 1 / (alpha + big_t) ** (r + x)
    dropped = a / (b + x - 1) / (alpha + t_x) ** (r + x) if x > 0 else 0.0
    return front * (alive + dropped)


def test_log_likelihood_matches_the_formula_worked_by_hand():
    customers = [(0, 0.0, 5.0), (2, 3.0, 5.0), (1, 4.5, 6.0), (7, 10.0, 10.0)]
    x, t_x, big_t = (list(column) for column in zip(*customers, strict=True))

    ll = clv.bgnbd_log_likelihood(PARAMS, x, t_x, big_t)

    expected = [math.log(hand_likelihood(0.5, 2.0, 0.8, 3.0, *c)) for c in customers]
    assert ll == pytest.approx(expected, rel=1e-12)


def test_a_customer_without_repeat_purchases_keeps_only_the_alive_term():
    # x = 0: L = (alpha / (alpha + T))^r, nothing else.
    ll = clv.bgnbd_log_likelihood(PARAMS, [0], [0], [5.0])

    assert ll[0] == pytest.approx(0.5 * math.log(2.0 / 7.0))


def test_expected_transactions_agree_with_direct_integration_over_the_dropout_rate():
    def given_p(p, t):
        return (1 - (2.0 / (2.0 + p * t)) ** 0.5) / p * stats.beta.pdf(p, 0.8, 3.0)

    times = [0.5, 4.0, 39.0, 200.0]
    expected = [integrate.quad(given_p, 0, 1, args=(t,), limit=200)[0] for t in times]

    assert clv.bgnbd_expected_transactions(PARAMS, times) == pytest.approx(expected, rel=1e-6)
    assert clv.bgnbd_expected_transactions(PARAMS, [0.0])[0] == 0.0


def test_closed_form_and_quadrature_agree_on_either_side_of_a_equal_one():
    for params in (PARAMS, clv.BGNBDParams(r=0.25, alpha=4.4, a=1.6, b=2.4)):
        times = np.array([1.0, 10.0, 78.0])
        closed = clv.bgnbd_expected_transactions(params, times)
        quadrature = clv._expected_transactions_quadrature(*params.as_tuple(), times)
        assert closed == pytest.approx(quadrature, rel=1e-8)


def test_purchase_count_distribution_sums_to_one_and_to_the_expected_count():
    counts = np.arange(0, 400)

    probabilities = clv.bgnbd_probability_of_purchases(PARAMS, 20.0, counts)

    assert probabilities.sum() == pytest.approx(1.0, abs=1e-9)
    assert counts @ probabilities == pytest.approx(
        clv.bgnbd_expected_transactions(PARAMS, 20.0)[0], rel=1e-8
    )
    # P(X(t) = 0) = (alpha / (alpha + t))^r: nobody can drop out before a first repeat purchase.
    assert probabilities[0] == pytest.approx((2.0 / 22.0) ** 0.5)


def test_probability_alive_matches_the_hand_formula():
    p_alive = clv.bgnbd_probability_alive(PARAMS, [0, 2], [0, 3.0], [5.0, 5.0])

    by_hand = 1 / (1 + 0.8 / (3.0 + 2 - 1) * ((2.0 + 5.0) / (2.0 + 3.0)) ** (0.5 + 2))
    assert p_alive[0] == 1.0
    assert p_alive[1] == pytest.approx(by_hand)


def test_a_customer_who_bought_long_ago_is_less_likely_alive_than_a_recent_one():
    p_alive = clv.bgnbd_probability_alive(PARAMS, [3, 3], [1.0, 9.0], [10.0, 10.0])

    assert p_alive[0] < p_alive[1]


def test_conditional_expectation_agrees_with_integration_over_the_posterior():
    r, alpha, a, b = PARAMS.as_tuple()
    x, t_x, big_t, t = 2, 3.0, 5.0, 8.0

    def numerator(p):
        # Alive at T: weight (1-p)^x lambda^x e^(-lambda T), lambda integrated out in closed form.
        lam_part = math.gamma(r + x) * alpha**r / math.gamma(r)
        future = (alpha + big_t) ** -(r + x) - (alpha + big_t + p * t) ** -(r + x)
        return (1 - p) ** x / p * lam_part * future * stats.beta.pdf(p, a, b)

    by_integration = integrate.quad(numerator, 0, 1, limit=200)[0] / hand_likelihood(
        r, alpha, a, b, x, t_x, big_t
    )

    computed = clv.bgnbd_conditional_expected_transactions(PARAMS, t, [x], [t_x], [big_t])

    assert computed[0] == pytest.approx(by_integration, rel=1e-7)


def test_a_heavy_buyer_gets_a_finite_conditional_expectation():
    computed = clv.bgnbd_conditional_expected_transactions(PARAMS, 52.0, [300], [99.0], [100.0])

    assert np.isfinite(computed[0])
    assert 100 < computed[0] < 200


def simulate_bgnbd(rng, n, r, alpha, a, b, big_t):
    rates = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    frequency, recency = np.zeros(n), np.zeros(n)
    for i in range(n):
        now = 0.0
        while True:
            now += rng.exponential(1 / rates[i])
            if now > big_t:
                break
            frequency[i] += 1
            recency[i] = now
            if rng.random() < drop[i]:
                break
    return frequency, recency, np.full(n, big_t)


def test_fit_recovers_the_parameters_of_simulated_customers():
    rng = np.random.default_rng(7)
    x, t_x, big_t = simulate_bgnbd(rng, 4000, r=0.8, alpha=3.0, a=0.7, b=2.5, big_t=40.0)

    fitted = clv.fit_bgnbd(x, t_x, big_t)

    assert fitted.r == pytest.approx(0.8, rel=0.15)
    assert fitted.alpha == pytest.approx(3.0, rel=0.2)
    assert fitted.a == pytest.approx(0.7, rel=0.25)
    assert fitted.b == pytest.approx(2.5, rel=0.25)
    assert fitted.n_customers == 4000
    assert fitted.log_likelihood == pytest.approx(
        clv.bgnbd_log_likelihood(fitted, x, t_x, big_t).sum()
    )


@pytest.mark.parametrize(
    ("x", "t_x", "big_t", "message"),
    [
        ([-1], [0], [5], "whole numbers"),
        ([1.5], [1], [5], "whole numbers"),
        ([2], [6], [5], "cannot exceed"),
        ([1], [1], [-5], "negative"),
        ([1, 2], [1], [5], "same length"),
        ([float("nan")], [1], [5], "finite"),
        ([], [], [], "without customers"),
        ([0], [0], [0], "before any time"),
    ],
)
def test_fit_rejects_impossible_customers_with_a_clear_message(x, t_x, big_t, message):
    with pytest.raises(InvalidInput, match=message):
        clv.fit_bgnbd(x, t_x, big_t)


def test_purchase_log_becomes_repeat_counts_recency_and_age_in_weeks():
    # Days from the origin; two rows on day 14 are one purchase occasion worth 30.
    ids = ["ann", "ann", "ann", "ann", "bob", "cy", "cy"]
    days = [0.0, 14.0, 14.2, 21.0, 7.0, 70.0, 80.0]
    values = [10.0, 20.0, 10.0, 50.0, 5.0, 9.0, 9.0]

    summary = clv.summarise_purchases(
        ids, days, values, calibration_end=35.0, holdout_end=70.0, unit=7.0
    )

    assert summary.customer_ids == ["ann", "bob"]  # cy arrived after the calibration window
    assert summary.frequency.tolist() == [2, 0]
    assert summary.recency.tolist() == [3.0, 0.0]
    assert summary.age.tolist() == [5.0, 4.0]
    assert summary.first_purchase.tolist() == [0.0, 1.0]
    assert summary.mean_repeat_value.tolist() == [40.0, 0.0]  # (30 + 50) / 2


def test_holdout_purchases_are_counted_apart_from_calibration():
    ids = ["ann"] * 4
    days = [0.0, 10.0, 40.0, 90.0]

    summary = clv.summarise_purchases(ids, days, calibration_end=35.0, holdout_end=70.0)

    assert summary.frequency.tolist() == [1]
    assert summary.holdout_frequency.tolist() == [1]  # day 90 is after the holdout end


def test_cumulative_repeat_purchases_skip_each_customers_first_purchase():
    ids = ["ann", "ann", "ann", "bob", "bob", "cy", "cy"]
    days = [0.0, 3.0, 9.0, 5.0, 5.5, 20.0, 22.0]

    counts = clv.cumulative_repeat_purchases(ids, days, [2.0, 5.0, 9.0, 30.0], cohort_end=10.0)

    # bob's two rows on day 5 are one occasion (no repeat); cy joined after the cohort closed.
    assert counts.tolist() == [0, 1, 2, 2]


def test_expected_cumulative_repeats_add_up_customers_from_their_own_start():
    ends = np.array([1.0, 5.0, 10.0])

    cohort = clv.expected_cumulative_repeat_purchases(PARAMS, [0.0, 0.0, 4.0], ends)

    one = clv.bgnbd_expected_transactions(PARAMS, ends)
    late = clv.bgnbd_expected_transactions(PARAMS, np.clip(ends - 4.0, 0, None))
    assert cohort == pytest.approx(2 * one + late)


# --- Gamma-Gamma ---------------------------------------------------------------------------------

SPEND = clv.GammaGammaParams(p=6.0, q=4.0, gamma=15.0)


def test_spend_log_likelihood_matches_the_density_by_hand():
    x, m = 3.0, 40.0
    p, q, g = 6.0, 4.0, 15.0
    by_hand = (
        math.gamma(p * x + q)
        / (math.gamma(p * x) * math.gamma(q))
        * g**q
        * m ** (p * x - 1)
        * x ** (p * x)
        / (g + m * x) ** (p * x + q)
    )

    ll = clv.gamma_gamma_log_likelihood(SPEND, [x], [m])

    assert ll[0] == pytest.approx(math.log(by_hand))


def test_spend_density_integrates_to_one():
    density = integrate.quad(
        lambda m: math.exp(clv.gamma_gamma_log_likelihood(SPEND, [2.0], [m])[0]), 1e-9, np.inf
    )[0]

    assert density == pytest.approx(1.0, rel=1e-6)


def test_expected_value_moves_from_the_population_mean_towards_the_customers_own():
    population = SPEND.population_mean_value  # 6 * 15 / 3 = 30

    values = clv.gamma_gamma_expected_value(SPEND, [0, 1, 10, 1000], [0, 100, 100, 100])

    assert population == 30.0
    assert values[0] == pytest.approx(30.0)
    assert 30.0 < values[1] < values[2] < values[3] < 100.0
    assert values[3] == pytest.approx(100.0, rel=0.01)


def test_spend_fit_recovers_simulated_parameters_roughly():
    rng = np.random.default_rng(11)
    n = 5000
    x = 1 + rng.poisson(2.0, n)
    nu = rng.gamma(4.0, 1 / 15.0, n)
    mean_value = np.array([rng.gamma(6.0, 1 / nu[i], x[i]).mean() for i in range(n)])

    fitted = clv.fit_gamma_gamma(x, mean_value)

    assert fitted.p == pytest.approx(6.0, rel=0.2)
    assert fitted.q == pytest.approx(4.0, rel=0.15)
    assert fitted.gamma == pytest.approx(15.0, rel=0.25)
    assert fitted.population_mean_value == pytest.approx(30.0, rel=0.05)


def test_spend_fit_needs_repeat_purchases_of_positive_value():
    with pytest.raises(InvalidInput, match="repeat purchases"):
        clv.fit_gamma_gamma([0, 0, 1], [0.0, 0.0, 0.0])


# --- lifetime value ------------------------------------------------------------------------------


def test_lifetime_value_without_discount_is_expected_purchases_times_expected_value():
    args = ([2, 0], [3.0, 0.0], [5.0, 5.0], [40.0, 0.0])

    value = clv.customer_lifetime_value(
        PARAMS, SPEND, *args, periods=6, period_length=4.0, discount_rate=0.0
    )

    purchases = clv.bgnbd_conditional_expected_transactions(PARAMS, 24.0, *args[:3])
    per_purchase = clv.gamma_gamma_expected_value(SPEND, [2, 0], [40.0, 0.0])
    assert value == pytest.approx(purchases * per_purchase)


def test_lifetime_value_falls_with_the_discount_rate_and_scales_with_margin():
    args = ([2], [3.0], [5.0], [40.0])

    plain = clv.customer_lifetime_value(PARAMS, SPEND, *args, discount_rate=0.0)[0]
    discounted = clv.customer_lifetime_value(PARAMS, SPEND, *args, discount_rate=0.02)[0]
    half_margin = clv.customer_lifetime_value(PARAMS, SPEND, *args, discount_rate=0.02, margin=0.5)

    assert 0 < discounted < plain
    assert half_margin[0] == pytest.approx(discounted / 2)
    assert clv.customer_lifetime_value(PARAMS, SPEND, *args, periods=0)[0] == 0.0


def test_lifetime_value_rejects_an_impossible_discount_rate():
    with pytest.raises(InvalidInput, match="discount"):
        clv.customer_lifetime_value(PARAMS, SPEND, [1], [1.0], [2.0], [5.0], discount_rate=-1.0)


def test_a_cohort_too_uniform_to_estimate_is_refused_with_advice():
    # Three customers who bought every week and never stopped: no evidence about dropping out.
    weekly_buyers = ([10, 10, 10], [10.0, 10.0, 10.0], [10.0, 10.0, 10.0])

    with pytest.raises(InvalidInput, match="penalizer"):
        clv.fit_bgnbd(*weekly_buyers)

    fitted = clv.fit_bgnbd(*weekly_buyers, penalizer=0.01)
    assert clv.bgnbd_conditional_expected_transactions(fitted, 10.0, *weekly_buyers) == (
        pytest.approx([10.2, 10.2, 10.2], abs=0.1)
    )


def test_a_small_workspace_fits_with_a_penalizer_and_predicts_finite_numbers():
    x, t_x, big_t = [0, 1, 3, 0, 2], [0.0, 2.0, 10.0, 0.0, 5.0], [12.0, 12.0, 12.0, 6.0, 8.0]

    fitted = clv.fit_bgnbd(x, t_x, big_t, penalizer=0.01)

    expected = clv.bgnbd_conditional_expected_transactions(fitted, 12.0, x, t_x, big_t)
    assert np.all(np.isfinite(expected))
    assert expected[2] > expected[0]  # three repeat purchases, the last one recent
