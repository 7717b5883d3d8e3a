"""Experiment statistics against hand-computed values and scipy's own tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp  # type: ignore[import-untyped]

from ascolto.analytics.experiments import stats


def test_two_proportion_test_matches_the_hand_computation() -> None:
    # 100/1000 against 130/1000: pooled p 0.115, SE0 = sqrt(.115 * .885 * 2/1000) = 0.0142671,
    # z = 0.03 / SE0 = 2.1027; unpooled SE = sqrt(.09/1000 + .1131/1000) = 0.0142513.
    r = stats.two_proportion_test(x_control=100, n_control=1000, x_treatment=130, n_treatment=1000)
    assert r.difference == pytest.approx(0.03)
    assert r.statistic == pytest.approx(2.10273, abs=1e-4)
    assert r.p_value == pytest.approx(0.03549, abs=1e-4)
    assert r.ci_low == pytest.approx(0.03 - 1.959964 * 0.0142513, abs=1e-5)
    assert r.ci_high == pytest.approx(0.03 + 1.959964 * 0.0142513, abs=1e-5)
    assert r.relative_lift == pytest.approx(0.3)


def test_two_proportion_test_with_all_successes_has_no_difference() -> None:
    r = stats.two_proportion_test(x_control=50, n_control=50, x_treatment=80, n_treatment=80)
    assert (r.difference, r.p_value, r.ci_low, r.ci_high) == (0.0, 1.0, 0.0, 0.0)
    assert r.relative_lift == 0.0


def test_two_proportion_test_with_an_empty_variant_gives_nothing() -> None:
    r = stats.two_proportion_test(x_control=0, n_control=0, x_treatment=3, n_treatment=10)
    assert r.p_value is None
    assert r.difference is None


def test_two_proportion_lift_is_undefined_from_a_zero_rate() -> None:
    r = stats.two_proportion_test(x_control=0, n_control=100, x_treatment=5, n_treatment=100)
    assert r.relative_lift is None
    assert r.difference == pytest.approx(0.05)
    assert r.p_value is not None
    assert r.p_value < 0.05


def test_welch_degrees_of_freedom_by_hand() -> None:
    # var 4 over n 10 and var 9 over n 15: a = 0.4, b = 0.6,
    # df = 1 / (0.16/9 + 0.36/14) = 22.9927; t = 1 / sqrt(1) = 1.
    r = stats.welch_test(
        n_control=10, mean_control=5.0, var_control=4.0,
        n_treatment=15, mean_treatment=6.0, var_treatment=9.0,
    )  # fmt: skip
    assert r.df == pytest.approx(22.9927, abs=1e-4)
    assert r.statistic == pytest.approx(1.0)
    assert r.p_value == pytest.approx(2 * sp.t.sf(1.0, 22.9927), abs=1e-6)
    half = sp.t.ppf(0.975, 22.9927)
    assert (r.ci_low, r.ci_high) == (pytest.approx(1 - half), pytest.approx(1 + half))


def test_welch_agrees_with_scipy_on_samples() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(10, 2, 40), rng.normal(11, 5, 25)
    r = stats.welch_test(
        n_control=len(a), mean_control=a.mean(), var_control=a.var(ddof=1),
        n_treatment=len(b), mean_treatment=b.mean(), var_treatment=b.var(ddof=1),
    )  # fmt: skip
    known = sp.ttest_ind(b, a, equal_var=False)
    assert r.statistic == pytest.approx(known.statistic)
    assert r.p_value == pytest.approx(known.pvalue)


def test_welch_with_zero_variance() -> None:
    same = stats.welch_test(
        n_control=5, mean_control=3.0, var_control=0.0,
        n_treatment=5, mean_treatment=3.0, var_treatment=0.0,
    )  # fmt: skip
    assert (same.difference, same.p_value) == (0.0, 1.0)
    apart = stats.welch_test(
        n_control=5, mean_control=3.0, var_control=0.0,
        n_treatment=5, mean_treatment=4.0, var_treatment=0.0,
    )  # fmt: skip
    assert (apart.difference, apart.p_value, apart.ci_low) == (1.0, 0.0, 1.0)


def test_welch_needs_two_units_per_variant() -> None:
    r = stats.welch_test(
        n_control=1, mean_control=3.0, var_control=0.0,
        n_treatment=9, mean_treatment=4.0, var_treatment=1.0,
    )  # fmt: skip
    assert r.p_value is None


def test_sample_size_for_proportions_by_hand() -> None:
    # 10% to 12%, alpha 0.05, power 0.8: (1.959964 * sqrt(2 * .11 * .89)
    # + 0.841621 * sqrt(.09 + .1056))² / 0.02² = 3840.8 -> 3841 per variant.
    assert stats.sample_size_proportions(baseline=0.10, mde=0.02) == 3841


def test_sample_size_for_means_by_hand() -> None:
    # 2 * (1.959964 + 0.841621)² * 1² / 0.5² = 62.79 -> 63 per variant.
    assert stats.sample_size_means(sd=1.0, mde=0.5) == 63


def test_sample_size_rejects_impossible_rates() -> None:
    with pytest.raises(ValueError, match="strictly between"):
        stats.sample_size_proportions(baseline=0.95, mde=0.1)


def test_srm_check() -> None:
    even = stats.srm_check([5000, 5000], [1, 1])
    assert even is not None
    assert even.p_value == pytest.approx(1.0)
    assert not even.mismatch
    slight = stats.srm_check([5100, 4900], [50, 50])
    assert slight is not None
    assert slight.chi2 == pytest.approx(4.0)
    assert not slight.mismatch
    assert slight.p_value == pytest.approx(0.0455, abs=1e-4)
    broken = stats.srm_check([5300, 4700], [1, 1])
    assert broken is not None
    assert broken.mismatch
    weighted = stats.srm_check([900, 100], [90, 10])
    assert weighted is not None
    assert weighted.chi2 == pytest.approx(0.0)
    assert stats.srm_check([0, 0], [1, 1]) is None


def test_msprt_ratio_by_hand() -> None:
    # diff 0.1, V 0.01, tau² 0.01: sqrt(1/2) * exp(0.01 * 0.01 / (2 * 0.01 * 0.02)) = 0.907943
    assert stats.msprt_ratio(difference=0.1, variance=0.01, tau2=0.01) == pytest.approx(
        math.sqrt(0.5) * math.exp(0.25)
    )


def test_msprt_p_value_never_rises() -> None:
    path = stats.msprt([(10, 0.5, 0.01), (20, 0.0, 0.01), (30, 0.2, 0.001)], tau2=0.04)
    ps = [look.p_value for look in path]
    assert ps == sorted(ps, reverse=True)
    assert ps[1] == ps[0]


def _simulated_rejections(effect: float, runs: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(runs):
        a, b = rng.normal(0, 1, 400), rng.normal(effect, 1, 400)
        looks = []
        for n in range(20, 401, 20):  # look after every 20 units per arm
            variance = a[:n].var(ddof=1) / n + b[:n].var(ddof=1) / n
            looks.append((2 * n, float(b[:n].mean() - a[:n].mean()), float(variance)))
        if stats.msprt(looks, tau2=0.25**2)[-1].p_value <= 0.05:
            rejected += 1
    return rejected / runs


def test_msprt_keeps_false_positives_under_alpha_despite_twenty_looks() -> None:
    # A fixed-horizon test peeked at 20 times rejects ~25% of true nulls; mSPRT stays <= 5%
    # (plus simulation noise).
    assert _simulated_rejections(0.0, runs=300, seed=1) <= 0.07


def test_msprt_detects_a_real_effect() -> None:
    assert _simulated_rejections(0.4, runs=100, seed=2) >= 0.8
