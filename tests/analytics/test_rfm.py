"""RFM quintile scores and value tiers."""

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ascolto.analytics.value import InvalidInput, rfm

money = st.floats(min_value=-1e4, max_value=1e7, allow_nan=False, allow_infinity=False)


@st.composite
def customers(draw, min_size=0, max_size=60):
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    orders = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
    days = draw(st.lists(st.none() | st.integers(0, 2000), min_size=n, max_size=n))
    spend = draw(st.lists(money, min_size=n, max_size=n))
    return days, orders, spend


def test_customer_model_tiers_match_these_names():
    # The tier strings must stay equal to customers.models.ValueTier's values.
    from ascolto.customers.models import ValueTier

    assert {*rfm.TIERS, rfm.UNRANKED} == set(ValueTier.values)


def test_five_distinct_customers_score_one_to_five():
    assert rfm.quintile_scores([50, 10, 30, 20, 40]).tolist() == [5, 1, 3, 2, 4]
    assert rfm.quintile_scores([50, 10, 30, 20, 40], higher_is_better=False).tolist() == [
        1,
        5,
        3,
        4,
        2,
    ]


def test_ten_customers_fill_each_quintile_twice():
    assert rfm.quintile_scores(range(10)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


@pytest.mark.parametrize("values", [[7.0], [3.0, 3.0, 3.0, 3.0], [0.0] * 20])
def test_a_lone_customer_or_identical_customers_score_in_the_middle(values):
    assert rfm.quintile_scores(values).tolist() == [3] * len(values)


def test_no_customers_give_no_scores():
    scores = rfm.rfm_scores([], [], [])

    assert scores.tiers == []
    assert len(scores.total) == 0


def test_a_recent_frequent_big_spender_is_platinum_and_a_lapsed_small_one_bronze():
    days = [2, 400, 30, 60, 90, 120, 150, 10, 45, 200]
    orders = [30, 1, 5, 4, 3, 2, 2, 8, 3, 1]
    spend = [9000, 15, 500, 400, 300, 150, 120, 700, 250, 20]

    scores = rfm.rfm_scores(days, orders, spend)

    assert (scores.recency[0], scores.frequency[0], scores.monetary[0]) == (5, 5, 5)
    assert scores.tiers[0] == rfm.PLATINUM
    assert (scores.recency[1], scores.frequency[1], scores.monetary[1]) == (1, 1, 1)
    assert scores.tiers[1] == rfm.BRONZE


def test_customers_without_orders_are_unranked_and_do_not_shift_the_others():
    ranked_only = rfm.rfm_scores([5, 50], [3, 1], [300, 10])

    with_prospects = rfm.rfm_scores([5, None, 50, None], [3, 0, 1, 0], [300, 0, 10, 0])

    assert with_prospects.tiers[1] == with_prospects.tiers[3] == rfm.UNRANKED
    assert with_prospects.total[[1, 3]].tolist() == [0, 0]
    assert with_prospects.total[[0, 2]].tolist() == ranked_only.total.tolist()


def test_tier_sizes_follow_the_policy_quotas():
    n = 200
    days = list(range(n))  # the same customer order on every score: no ties anywhere
    orders = list(range(n, 0, -1))
    spend = [10.0 * k for k in range(n, 0, -1)]

    tiers = rfm.rfm_scores(days, orders, spend).tiers

    assert [tiers.count(t) for t in rfm.TIERS] == [10, 30, 60, 100]
    assert tiers[:10] == [rfm.PLATINUM] * 10
    assert tiers[-1] == rfm.BRONZE


def test_a_custom_policy_changes_the_quotas():
    policy = rfm.TierPolicy(platinum=0.1, gold=0.3, silver=0.6)
    n = 100

    tiers = rfm.rfm_scores(range(n), range(n, 0, -1), range(n, 0, -1), policy=policy).tiers

    assert [tiers.count(t) for t in rfm.TIERS] == [10, 20, 30, 40]


@pytest.mark.parametrize("n", [1, 2, 7, 500])
def test_nobody_stands_out_among_identical_customers(n):
    tiers = rfm.rfm_scores([10] * n, [2] * n, [99.0] * n).tiers

    assert set(tiers) == {rfm.SILVER}


def test_tier_policy_rejects_shares_out_of_order():
    with pytest.raises(InvalidInput, match="shares"):
        rfm.TierPolicy(platinum=0.3, gold=0.2, silver=0.5)


@pytest.mark.parametrize(
    ("days", "orders", "spend", "message"),
    [
        ([1], [-1], [10], "orders_count"),
        ([-3], [1], [10], "days_since_last_order"),
        ([1], [1], [float("nan")], "total_spend"),
        ([1, 2], [1], [10], "same length"),
        ([1], ["many"], [10], "orders_count"),
    ],
)
def test_bad_numbers_are_rejected_with_the_field_named(days, orders, spend, message):
    with pytest.raises(InvalidInput, match=message):
        rfm.rfm_scores(days, orders, spend)


@given(customers())
def test_every_customer_gets_exactly_one_tier(data):
    days, orders, spend = data

    scores = rfm.rfm_scores(days, orders, spend)

    assert len(scores.tiers) == len(orders)
    for tier, day, count, r, f, m in zip(
        scores.tiers, days, orders, scores.recency, scores.frequency, scores.monetary, strict=True
    ):
        ranked = count > 0 and day is not None
        assert (tier != rfm.UNRANKED) == ranked
        assert tier in (*rfm.TIERS, rfm.UNRANKED)
        if ranked:
            assert {r, f, m} <= {1, 2, 3, 4, 5}
        else:
            assert (r, f, m) == (0, 0, 0)


@given(customers(min_size=1))
def test_a_customer_ahead_on_every_count_is_never_in_a_lower_tier(data):
    days, orders, spend = data
    scores = rfm.rfm_scores(days, orders, spend)
    rank = {tier: i for i, tier in enumerate(rfm.TIERS)}
    ranked = [i for i, tier in enumerate(scores.tiers) if tier != rfm.UNRANKED]

    for i in ranked:
        for j in ranked:
            if (
                scores.total[i] > scores.total[j]
                and spend[i] >= spend[j]
                and orders[i] >= orders[j]
                and days[i] <= days[j]
            ):
                assert rank[scores.tiers[i]] <= rank[scores.tiers[j]]
            if (days[i], orders[i], spend[i]) == (days[j], orders[j], spend[j]):
                assert scores.tiers[i] == scores.tiers[j]


@given(st.lists(money, min_size=1, max_size=80))
def test_scores_follow_the_order_of_the_values(values):
    scores = rfm.quintile_scores(values)

    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(scores[order]) >= 0)
    by_value: dict[float, set[int]] = {}
    for value, score in zip(values, scores, strict=True):
        by_value.setdefault(value, set()).add(int(score))
    assert all(len(found) == 1 for found in by_value.values())


@given(st.lists(money, min_size=1, max_size=80), st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_the_order_customers_are_listed_in(values, random):
    permutation = list(range(len(values)))
    random.shuffle(permutation)

    scores = rfm.quintile_scores(values)
    shuffled = rfm.quintile_scores([values[i] for i in permutation])

    assert shuffled.tolist() == scores[permutation].tolist()


@given(st.integers(1, 300))
def test_distinct_values_spread_evenly_over_the_quintiles(n):
    scores = rfm.quintile_scores(range(n))

    counts = np.bincount(scores, minlength=6)[1:]
    assert counts.max() - counts.min() <= 1


@given(customers(min_size=1))
def test_scoring_one_customer_against_the_stored_run_repeats_the_run(data):
    days, orders, spend = data
    scores = rfm.rfm_scores(days, orders, spend)
    stored = rfm.RFMReference(**json.loads(json.dumps(dataclasses.asdict(scores.reference))))

    for i in range(len(orders)):
        one = rfm.score_customer(
            stored, days_since_last_order=days[i], orders_count=orders[i], total_spend=spend[i]
        )
        batch = (
            int(scores.recency[i]),
            int(scores.frequency[i]),
            int(scores.monetary[i]),
            scores.tiers[i],
        )
        assert one == batch


def test_a_new_big_order_lifts_a_customer_against_the_stored_run():
    n = 100
    scores = rfm.rfm_scores(range(1, n + 1), [2] * n, [float(v) for v in range(n)])

    before = rfm.score_customer(
        scores.reference, days_since_last_order=90, orders_count=2, total_spend=10.0
    )
    after = rfm.score_customer(
        scores.reference, days_since_last_order=0, orders_count=3, total_spend=5000.0
    )

    assert before[3] == rfm.BRONZE
    assert after[:3] == (5, 5, 5)
    assert after[3] == rfm.PLATINUM


def test_the_first_customer_after_an_empty_run_sits_in_the_middle():
    empty_run = rfm.rfm_scores([None], [0], [0.0]).reference

    scored = rfm.score_customer(
        empty_run, days_since_last_order=0, orders_count=1, total_spend=20.0
    )

    assert scored == (3, 3, 3, rfm.SILVER)
    assert rfm.score_customer(
        empty_run, days_since_last_order=None, orders_count=0, total_spend=0.0
    ) == (0, 0, 0, rfm.UNRANKED)
