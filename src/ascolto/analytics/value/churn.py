"""Churn risk per customer, with the reasons behind each score.

The model is an additive logistic regression (a small generalised additive model): every numeric
feature enters through a linear term plus a cubic B-spline on its training quantiles, so "risk rises
sharply in the first months, then flattens" can be learnt; every categorical feature is one-hot
encoded. Because the log-odds are a sum of per-feature terms, each customer's score splits exactly
into per-feature contributions measured against the average training customer:

    logit P(churn) = baseline + sum over features of contribution(feature)

A positive contribution is a reason the customer is riskier than average (many unresolved issues, a
detractor answer, no order for a long time); the largest ones are shown on the Customer 360 page.
The trained state is plain numbers and strings (`to_state` / `from_state`), so it can be stored as
JSON and reloaded without pickle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.interpolate import BSpline  # type: ignore[import-untyped]
from scipy.special import expit  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression

from ascolto.analytics.value._arrays import FloatArray, InvalidInput

FeatureValue = float | int | str | None
Row = Mapping[str, FeatureValue]

# Behaviour features the Customer 360 layer computes per customer at a cut-off date. Any numeric
# subset works; these names are what the reasons refer to.
BEHAVIOUR_FEATURES = (
    "days_since_last_order",
    "orders_count",
    "lifetime_spend",
    "probability_alive",
    "contacts_90d",
    "negative_sentiment_share_90d",
    "detractor_answers_365d",
    "unresolved_issues",
    "tenure_days",
)

_SPLINE_DEGREE = 3


@dataclass(frozen=True)
class Reason:
    feature: str
    value: FeatureValue
    contribution: float  # log-odds against the average customer; > 0 raises the risk


@dataclass(frozen=True)
class ChurnRisk:
    probability: float
    contributions: dict[str, float]
    reasons: list[Reason]


@dataclass
class _NumericEncoder:
    name: str
    median: float
    mean: float
    scale: float
    knots: list[float]  # full B-spline knot vector; empty when the feature is linear only

    @classmethod
    def fit(cls, name: str, column: FloatArray, n_knots: int) -> _NumericEncoder:
        observed = column[~np.isnan(column)]
        median = float(np.median(observed)) if len(observed) else 0.0
        filled = np.where(np.isnan(column), median, column)
        scale = float(filled.std()) or 1.0
        inner = np.unique(np.quantile(filled, np.linspace(0.0, 1.0, n_knots)))
        knots: list[float] = []
        if n_knots >= 2 and len(inner) >= 3:
            knots = (
                [float(inner[0])] * _SPLINE_DEGREE
                + [float(v) for v in inner]
                + [float(inner[-1])] * _SPLINE_DEGREE
            )
        return cls(name, median, float(filled.mean()), scale, knots)

    @property
    def width(self) -> int:
        return 1 + (len(self.knots) - _SPLINE_DEGREE - 1 if self.knots else 0)

    def encode(self, column: FloatArray) -> FloatArray:
        filled = np.where(np.isnan(column), self.median, column)
        linear = ((filled - self.mean) / self.scale)[:, None]
        if not self.knots:
            return linear
        knots = np.asarray(self.knots)
        clipped = np.clip(filled, knots[0], knots[-1])
        basis = BSpline.design_matrix(clipped, knots, _SPLINE_DEGREE).toarray()
        result: FloatArray = np.hstack([linear, basis])
        return result


@dataclass
class _CategoricalEncoder:
    name: str
    categories: list[str]

    @property
    def width(self) -> int:
        return len(self.categories)

    def encode(self, column: Sequence[str]) -> FloatArray:
        lookup = {category: i for i, category in enumerate(self.categories)}
        result = np.zeros((len(column), len(self.categories)))
        for row, value in enumerate(column):
            index = lookup.get(value)
            if index is not None:
                result[row, index] = 1.0
        return result


class ChurnModel:
    """Additive logistic churn model over named numeric and categorical features.

    `regularization` is the inverse L2 strength (scikit-learn's C); `spline_knots` the number of
    quantile knots per numeric feature (fewer distinct values than three makes it linear).
    """

    def __init__(
        self,
        numeric: Sequence[str],
        categorical: Sequence[str] = (),
        *,
        spline_knots: int = 5,
        regularization: float = 1.0,
    ) -> None:
        if not numeric and not categorical:
            raise InvalidInput("a churn model needs at least one feature")
        if len(set(numeric) | set(categorical)) != len(numeric) + len(categorical):
            raise InvalidInput("feature names must be unique")
        if regularization <= 0:
            raise InvalidInput("regularization must be positive")
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.spline_knots = spline_knots
        self.regularization = regularization
        self._numeric_encoders: list[_NumericEncoder] = []
        self._categorical_encoders: list[_CategoricalEncoder] = []
        self._coef: FloatArray = np.zeros(0)
        self._intercept = 0.0
        self._column_means: FloatArray = np.zeros(0)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    @property
    def is_fitted(self) -> bool:
        return len(self._coef) > 0

    # --- encoding ---------------------------------------------------------------------------

    def _numeric_column(self, rows: Sequence[Row], name: str) -> FloatArray:
        values = np.empty(len(rows))
        for i, row in enumerate(rows):
            raw = row.get(name)
            if raw is None or raw == "":
                values[i] = np.nan
                continue
            try:
                values[i] = float(raw)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"feature {name} must be a number, got {raw!r}") from exc
            if math.isinf(values[i]):
                raise InvalidInput(f"feature {name} must be finite")
        return values

    @staticmethod
    def _categorical_column(rows: Sequence[Row], name: str) -> list[str]:
        return ["" if row.get(name) is None else str(row.get(name)) for row in rows]

    def _encode(self, rows: Sequence[Row]) -> tuple[FloatArray, list[slice]]:
        blocks: list[FloatArray] = []
        spans: list[slice] = []
        start = 0
        for numeric in self._numeric_encoders:
            blocks.append(numeric.encode(self._numeric_column(rows, numeric.name)))
            spans.append(slice(start, start + numeric.width))
            start += numeric.width
        for categorical in self._categorical_encoders:
            blocks.append(categorical.encode(self._categorical_column(rows, categorical.name)))
            spans.append(slice(start, start + categorical.width))
            start += categorical.width
        return np.hstack(blocks) if blocks else np.zeros((len(rows), 0)), spans

    # --- training and scoring ---------------------------------------------------------------

    def fit(self, rows: Sequence[Row], labels: Sequence[int | bool]) -> ChurnModel:
        """Train on one row per customer and a 1 (churned) / 0 (stayed) label each.

        Raises InvalidInput when the lengths differ or only one outcome is present.
        """
        y = np.asarray([int(bool(label)) for label in labels])
        if len(y) != len(rows):
            raise InvalidInput("there must be exactly one label per customer")
        if len(np.unique(y)) < 2:
            raise InvalidInput("training needs both customers who churned and who stayed")
        self._numeric_encoders = [
            _NumericEncoder.fit(name, self._numeric_column(rows, name), self.spline_knots)
            for name in self.numeric
        ]
        self._categorical_encoders = [
            _CategoricalEncoder(name, sorted(set(self._categorical_column(rows, name))))
            for name in self.categorical
        ]
        encoded, _ = self._encode(rows)
        classifier = LogisticRegression(C=self.regularization, max_iter=5000)
        classifier.fit(encoded, y)
        self._coef = np.asarray(classifier.coef_[0], dtype=float)
        self._intercept = float(classifier.intercept_[0])
        self._column_means = encoded.mean(axis=0)
        return self

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise InvalidInput("the churn model has not been trained yet")

    @property
    def baseline(self) -> float:
        """Log-odds of churn of the average training customer, where contributions start from."""
        self._require_fitted()
        return self._intercept + float(self._coef @ self._column_means)

    def contributions(self, rows: Sequence[Row]) -> FloatArray:
        """Per-customer, per-feature log-odds contributions; shape (customers, features)."""
        self._require_fitted()
        encoded, spans = self._encode(rows)
        weighted = (encoded - self._column_means) * self._coef
        result: FloatArray = np.column_stack(
            [weighted[:, span].sum(axis=1) for span in spans]
        ).reshape(len(rows), len(spans))
        return result

    def predict_proba(self, rows: Sequence[Row]) -> FloatArray:
        """P(churn) per customer."""
        result: FloatArray = expit(self.baseline + self.contributions(rows).sum(axis=1))
        return result

    def explain(
        self, rows: Sequence[Row], *, top: int = 3, min_contribution: float = 0.1
    ) -> list[ChurnRisk]:
        """Score each customer and name up to `top` features that raise her risk the most.

        Only contributions of at least `min_contribution` log-odds count as reasons, so a customer
        at average risk gets no invented reasons.
        """
        contributions = self.contributions(rows)
        probabilities = expit(self.baseline + contributions.sum(axis=1))
        names = self.features
        risks: list[ChurnRisk] = []
        for row, probability, per_feature in zip(rows, probabilities, contributions, strict=True):
            order = np.argsort(-per_feature, kind="stable")
            reasons = [
                Reason(
                    feature=names[i], value=row.get(names[i]), contribution=float(per_feature[i])
                )
                for i in order[:top]
                if per_feature[i] >= min_contribution
            ]
            risks.append(
                ChurnRisk(
                    probability=float(probability),
                    contributions={n: float(c) for n, c in zip(names, per_feature, strict=True)},
                    reasons=reasons,
                )
            )
        return risks

    # --- persistence ------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-ready trained state."""
        self._require_fitted()
        return {
            "numeric": [vars(encoder) for encoder in self._numeric_encoders],
            "categorical": [vars(encoder) for encoder in self._categorical_encoders],
            "coef": [float(v) for v in self._coef],
            "intercept": self._intercept,
            "column_means": [float(v) for v in self._column_means],
            "spline_knots": self.spline_knots,
            "regularization": self.regularization,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ChurnModel:
        """Rebuild a trained model from `to_state()`; InvalidInput when the state is unusable."""
        try:
            numeric = [_NumericEncoder(**dict(item)) for item in state["numeric"]]
            categorical = [_CategoricalEncoder(**dict(item)) for item in state["categorical"]]
            model = cls(
                [encoder.name for encoder in numeric],
                [encoder.name for encoder in categorical],
                spline_knots=int(state["spline_knots"]),
                regularization=float(state["regularization"]),
            )
            model._numeric_encoders = numeric
            model._categorical_encoders = categorical
            model._coef = np.asarray(state["coef"], dtype=float)
            model._intercept = float(state["intercept"])
            model._column_means = np.asarray(state["column_means"], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("the stored churn model is not readable") from exc
        width = sum(e.width for e in numeric) + sum(e.width for e in categorical)
        if len(model._coef) != width or len(model._column_means) != width:
            raise InvalidInput("the stored churn model does not match its features")
        return model
