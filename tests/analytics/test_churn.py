"""Churn risk: scores, per-feature reasons that add up, and a stored model that reloads."""

import json

import numpy as np
import pytest
from scipy.special import logit

from ascolto.analytics.value import InvalidInput
from ascolto.analytics.value.churn import ChurnModel

NUMERIC = ["days_since_last_order", "orders_count", "unresolved_issues", "detractor_answers_365d"]
CATEGORICAL = ["plan"]


def behaviour(n, seed=5):
    """Customers whose churn is driven by silence, unresolved issues and detractor answers."""
    rng = np.random.default_rng(seed)
    days = rng.exponential(60, n)
    orders = rng.poisson(4, n)
    unresolved = rng.poisson(0.4, n)
    detractor = rng.binomial(1, 0.15, n)
    plan = rng.choice(["basic", "pro"], n)
    log_odds = (
        -1.5
        + 0.012 * days
        - 0.25 * orders
        + 1.0 * unresolved
        + 1.2 * detractor
        + 0.4 * (plan == "basic")
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-log_odds))).astype(int)
    rows = [
        {
            "days_since_last_order": float(days[i]),
            "orders_count": int(orders[i]),
            "unresolved_issues": int(unresolved[i]),
            "detractor_answers_365d": int(detractor[i]),
            "plan": str(plan[i]),
        }
        for i in range(n)
    ]
    return rows, churned.tolist()


@pytest.fixture(scope="module")
def trained():
    rows, labels = behaviour(3000)
    return ChurnModel(NUMERIC, CATEGORICAL).fit(rows, labels)


def test_contributions_add_up_to_the_predicted_log_odds(trained):
    rows, _ = behaviour(50, seed=9)

    contributions = trained.contributions(rows)

    assert contributions.shape == (50, 5)
    assert trained.baseline + contributions.sum(axis=1) == pytest.approx(
        logit(trained.predict_proba(rows)), abs=1e-9
    )


def test_unresolved_issues_and_a_detractor_answer_are_the_reasons_shown(trained):
    rows = [
        {
            "days_since_last_order": 20.0,
            "orders_count": 5,
            "unresolved_issues": 4,
            "detractor_answers_365d": 1,
            "plan": "pro",
        }
    ]

    risk = trained.explain(rows)[0]

    assert [reason.feature for reason in risk.reasons][:2] == [
        "unresolved_issues",
        "detractor_answers_365d",
    ]
    assert all(reason.contribution > 0 for reason in risk.reasons)
    assert risk.reasons[0].value == 4
    assert risk.contributions["orders_count"] < 0  # five orders is better than average


def test_a_loyal_customer_has_low_risk_and_no_reasons(trained):
    loyal = {
        "days_since_last_order": 3.0,
        "orders_count": 12,
        "unresolved_issues": 0,
        "detractor_answers_365d": 0,
        "plan": "pro",
    }
    silent = {**loyal, "days_since_last_order": 300.0, "orders_count": 1}

    loyal_risk, silent_risk = trained.explain([loyal, silent])

    assert loyal_risk.probability < 0.1
    assert loyal_risk.reasons == []
    assert silent_risk.probability > 0.5
    assert silent_risk.reasons[0].feature in {"days_since_last_order", "orders_count"}


def test_risk_rises_with_unresolved_issues(trained):
    base = {
        "days_since_last_order": 40.0,
        "orders_count": 4,
        "detractor_answers_365d": 0,
        "plan": "basic",
    }

    risks = trained.predict_proba([{**base, "unresolved_issues": k} for k in range(4)])

    assert np.all(np.diff(risks) > 0)


def test_it_separates_churners_from_stayers_on_new_customers(trained):
    from sklearn.metrics import roc_auc_score

    rows, labels = behaviour(2000, seed=21)

    assert roc_auc_score(labels, trained.predict_proba(rows)) > 0.75


def test_missing_values_and_unseen_categories_still_score(trained):
    rows = [{"days_since_last_order": None, "orders_count": "", "plan": "enterprise"}]

    risk = trained.explain(rows)[0]

    assert 0 < risk.probability < 1


def test_stored_state_reloads_to_the_same_scores(trained):
    rows, _ = behaviour(20, seed=3)

    reloaded = ChurnModel.from_state(json.loads(json.dumps(trained.to_state())))

    assert reloaded.predict_proba(rows) == pytest.approx(trained.predict_proba(rows))
    assert reloaded.features == trained.features


def test_a_damaged_state_is_refused(trained):
    state = trained.to_state()
    state["coef"] = state["coef"][:-1]

    with pytest.raises(InvalidInput, match="does not match"):
        ChurnModel.from_state(state)
    with pytest.raises(InvalidInput, match="not readable"):
        ChurnModel.from_state({"numeric": []})


def test_training_needs_both_outcomes():
    rows, _ = behaviour(30)

    with pytest.raises(InvalidInput, match="both"):
        ChurnModel(NUMERIC).fit(rows, [0] * 30)


def test_text_in_a_numeric_feature_is_rejected_with_its_name(trained):
    with pytest.raises(InvalidInput, match="orders_count"):
        trained.predict_proba([{"orders_count": "plenty"}])


def test_an_untrained_model_refuses_to_score():
    with pytest.raises(InvalidInput, match="not been trained"):
        ChurnModel(NUMERIC).predict_proba([{}])
