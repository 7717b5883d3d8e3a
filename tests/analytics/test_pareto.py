"""Pareto shares, the Pareto curve, the Gini coefficient and cost to serve per segment."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ascolto.analytics.value import InvalidInput, pareto

# Money: nothing, or at least a cent.
amounts = st.lists(st.just(0.0) | st.floats(min_value=0.01, max_value=1e6), max_size=80)
shares = st.floats(min_value=0.0, max_value=1.0)
# A share that is not lost to underflow once multiplied by a total (5e-324 * 0.5 is 0.0).
target_shares = st.just(0.0) | st.floats(min_value=1e-12, max_value=1.0)


def test_one_customer_in_five_makes_80_percent():
    revenue = [800, 50, 50, 50, 50]

    assert pareto.share_of_customers_for(revenue, 0.8) == 0.2
    assert pareto.share_of_customers_for(revenue, 0.5) == 0.2
    assert pareto.share_of_customers_for(revenue, 0.81) == 0.4


def test_identical_customers_need_their_plain_share():
    revenue = [25.0] * 4

    assert pareto.share_of_customers_for(revenue, 0.5) == 0.5
    assert pareto.share_of_customers_for(revenue, 0.8) == 1.0
    assert pareto.gini(revenue) == 0.0


def test_refunds_above_purchases_count_as_zero():
    assert pareto.share_of_customers_for([100, -500, 0, 0], 0.8) == 0.25


@pytest.mark.parametrize("values", [[], [0.0, 0.0], [-5.0]])
def test_shares_are_undefined_without_customers_or_revenue(values):
    summary = pareto.pareto_summary(values)

    assert summary.share_for_50 is None
    assert summary.share_for_80 is None
    assert summary.gini is None
    assert summary.customers == len(values)
    assert pareto.pareto_curve(values)[0].size == 0


def test_a_single_customer_is_all_of_it():
    summary = pareto.pareto_summary([42.0])

    assert (summary.share_for_50, summary.share_for_80, summary.gini) == (1.0, 1.0, 0.0)


def test_curve_of_a_small_workspace_has_a_point_per_customer():
    customers, value = pareto.pareto_curve([10, 30, 60])

    assert customers.tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert value.tolist() == pytest.approx([0, 0.6, 0.9, 1.0])


def test_curve_of_a_large_workspace_is_thinned_to_the_requested_points():
    customers, value = pareto.pareto_curve(np.arange(10_000), points=21)

    assert len(customers) == 21
    assert customers[10] == 0.5
    assert value[10] == pytest.approx(0.75, abs=1e-3)  # the top half of 0..9999 holds 3/4


def test_gini_of_one_customer_with_everything():
    assert pareto.gini([0, 0, 0, 100]) == pytest.approx(0.75)


def test_share_outside_zero_to_one_is_rejected():
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        pareto.share_of_customers_for([1, 2], 1.5)


@given(amounts, shares, shares)
def test_more_of_the_total_never_needs_fewer_customers(values, low, high):
    low, high = min(low, high), max(low, high)

    first = pareto.share_of_customers_for(values, low)
    second = pareto.share_of_customers_for(values, high)

    if first is None or second is None:
        assert first is second is None
        assert len(values) == 0 or sum(values) == 0
    else:
        assert 0.0 <= first <= second <= 1.0


@given(amounts.filter(lambda v: sum(v) > 0), target_shares)
def test_the_share_is_the_smallest_top_group_that_reaches_the_target(values, share):
    result = pareto.share_of_customers_for(values, share)

    top = sorted(values, reverse=True)
    k = round(result * len(values))
    total = math.fsum(values)
    assert math.fsum(top[:k]) >= share * total * (1 - 1e-9)
    if k > 0:
        assert math.fsum(top[: k - 1]) < share * total * (1 + 1e-9)


@given(amounts.filter(lambda v: sum(v) > 0))
def test_curve_runs_from_nothing_to_everything_rising_and_concave(values):
    customers, value = pareto.pareto_curve(values, points=1000)

    assert (customers[0], value[0]) == (0.0, 0.0)
    assert customers[-1] == 1.0
    assert value[-1] == pytest.approx(1.0)
    assert np.all(np.diff(customers) > 0)
    assert np.all(np.diff(value) >= -1e-12)
    slopes = np.diff(value) / np.diff(customers)
    assert np.all(np.diff(slopes) <= 1e-9 * max(1.0, slopes.max()))


@given(amounts.filter(lambda v: sum(v) > 0))
def test_gini_stays_between_zero_and_one(values):
    value = pareto.gini(values)

    assert value is not None
    assert 0.0 <= value < 1.0


def test_cost_to_serve_splits_revenue_and_contacts_by_segment():
    segments = ["gold", "bronze", "gold", "bronze", "bronze"]
    revenue = [900, 20, 600, 50, -10]
    contacts = [2, 5, 1, 8, 4]

    rows = pareto.cost_to_serve_by_segment(segments, revenue, contacts, cost_per_contact=6.0)

    gold, bronze = rows
    assert (gold.segment, gold.customers, gold.revenue, gold.contacts) == ("gold", 2, 1500, 3)
    assert gold.cost_to_serve == 18.0
    assert gold.revenue_share == pytest.approx(1500 / 1560)
    assert gold.contact_share == pytest.approx(3 / 20)
    assert gold.cost_per_customer == 9.0
    assert bronze.cost_to_serve == 102.0
    assert bronze.cost_to_revenue == pytest.approx(102 / 60)
    assert bronze.contacts_per_customer == pytest.approx(17 / 3)


def test_cost_to_serve_uses_the_measured_cost_when_given():
    rows = pareto.cost_to_serve_by_segment(["a", "a"], [10, 10], [1, 1], service_cost=[3.5, 0.5])

    assert rows[0].cost_to_serve == 4.0


def test_cost_to_serve_rejects_negative_contacts():
    with pytest.raises(InvalidInput, match="contacts"):
        pareto.cost_to_serve_by_segment(["a"], [10], [-1])
