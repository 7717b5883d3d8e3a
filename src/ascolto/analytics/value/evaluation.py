"""The published checks of the value models, shared by `bench/value_eval.py` and the tests.

- CDNOW tracking (Fader, Hardie & Lee 2005): fit on weeks 1-39, predict cumulative repeat purchases
  of the same cohort through week 78, compare with what happened.
- Telco churn: ROC-AUC of the churn model on a held-out stratified split and in cross-validation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from ascolto.analytics.value import clv, datasets
from ascolto.analytics.value._arrays import FloatArray
from ascolto.analytics.value.churn import ChurnModel
from ascolto.analytics.value.pareto_nbd import fit_pareto_nbd

CALIBRATION_WEEKS = 39
TOTAL_WEEKS = 78

FITTERS: dict[str, Callable[..., clv.PurchaseModel]] = {
    "bgnbd": clv.fit_bgnbd,
    "pareto_nbd": fit_pareto_nbd,
}


@dataclass(frozen=True)
class Tracking:
    model: clv.PurchaseModel
    customers: int
    weeks: FloatArray  # 1..78
    actual: FloatArray  # cumulative repeat purchases at the end of each week
    predicted: FloatArray
    holdout_actual: float  # repeat purchases in weeks 40-78
    holdout_conditional: float  # sum over customers of E[Y(39 weeks) | x, t_x, T]

    @property
    def error_at_end(self) -> float:
        """Relative error of predicted vs actual cumulative repeat purchases at week 78."""
        return float(self.predicted[-1] / self.actual[-1] - 1.0)

    @property
    def worst_holdout_error(self) -> float:
        """Largest relative error of the cumulative curve over weeks 40-78 (signed)."""
        errors = self.predicted[CALIBRATION_WEEKS:] / self.actual[CALIBRATION_WEEKS:] - 1.0
        return float(errors[np.argmax(np.abs(errors))])

    @property
    def holdout_predicted(self) -> float:
        return float(self.predicted[-1] - self.predicted[CALIBRATION_WEEKS - 1])

    @property
    def holdout_error(self) -> float:
        """Relative error of the purchases made within weeks 40-78 alone (a harder test)."""
        return self.holdout_predicted / self.holdout_actual - 1.0


def cdnow_tracking(log: datasets.PurchaseLog, model: str = "bgnbd") -> Tracking:
    """Fit `model` on weeks 1-39 of a CDNOW purchase log and track weeks 1-78."""
    summary = clv.summarise_purchases(
        log.customer_ids,
        log.days,
        log.values,
        calibration_end=datasets.CDNOW_CALIBRATION_END_DAY,
        holdout_end=datasets.CDNOW_HOLDOUT_END_DAY,
    )
    params = FITTERS[model](summary.frequency, summary.recency, summary.age)
    weeks = np.arange(1, TOTAL_WEEKS + 1, dtype=float)
    actual = clv.cumulative_repeat_purchases(
        log.customer_ids,
        log.days,
        weeks * 7 - 1,
        cohort_end=datasets.CDNOW_CALIBRATION_END_DAY,
    )
    predicted = clv.expected_cumulative_repeat_purchases(params, summary.first_purchase, weeks)
    conditional = clv.conditional_expected_transactions(
        params,
        float(TOTAL_WEEKS - CALIBRATION_WEEKS),
        summary.frequency,
        summary.recency,
        summary.age,
    )
    return Tracking(
        model=params,
        customers=len(summary.customer_ids),
        weeks=weeks,
        actual=actual,
        predicted=predicted,
        holdout_actual=float(summary.holdout_frequency.sum()),
        holdout_conditional=float(conditional.sum()),
    )


@dataclass(frozen=True)
class ChurnCheck:
    holdout_auc: float
    cv_auc: list[float]
    model: ChurnModel
    test_rows: list[dict[str, float | str | None]]


def telco_churn_check(
    path: Path, *, seed: int = 42, test_size: float = 0.25, folds: int = 5
) -> ChurnCheck:
    """ROC-AUC on a held-out stratified split, and stratified k-fold AUCs, with a fixed seed."""
    rows, labels = datasets.load_telco_churn(path)
    y = np.asarray(labels)
    numeric = [name for name in datasets.TELCO_NUMERIC if name in rows[0]]
    categorical = [name for name in rows[0] if name not in numeric]
    index = np.arange(len(rows))

    def fit(train: np.ndarray) -> ChurnModel:
        return ChurnModel(numeric, categorical).fit([rows[i] for i in train], y[train].tolist())

    train, test = train_test_split(index, test_size=test_size, stratify=y, random_state=seed)
    model = fit(train)
    test_rows = [rows[i] for i in test]
    holdout_auc = float(roc_auc_score(y[test], model.predict_proba(test_rows)))
    cv_auc = []
    if folds > 1:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for fold_train, fold_test in splitter.split(index, y):
            fold_model = fit(fold_train)
            scores = fold_model.predict_proba([rows[i] for i in fold_test])
            cv_auc.append(float(roc_auc_score(y[fold_test], scores)))
    return ChurnCheck(holdout_auc=holdout_auc, cv_auc=cv_auc, model=model, test_rows=test_rows)
