"""Readers for the public evaluation sets the value models are checked against.

The files live outside the repository (`../shared/datasets`, see its README for sources and
licenses); these readers only parse them into the plain arrays the models take.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ascolto.analytics.value._arrays import FloatArray, InvalidInput

CDNOW_ORIGIN = np.datetime64("1997-01-01")
# Fader, Hardie & Lee (2005): calibration weeks 1-39 end on 1997-09-30, the holdout weeks 40-78
# on 1998-06-30, both counted in days from 1997-01-01 (day 0 is the first day of week 1).
CDNOW_CALIBRATION_END_DAY = 39 * 7 - 1
CDNOW_HOLDOUT_END_DAY = 78 * 7 - 1


@dataclass(frozen=True)
class PurchaseLog:
    customer_ids: list[str]
    days: FloatArray  # days since 1997-01-01
    values: FloatArray


def load_cdnow(path: Path) -> PurchaseLog:
    """Read CDNOW_master.txt (`id yyyymmdd cds dollars`) or CDNOW_sample.txt (`id id2 ...`)."""
    rows = [line.split() for line in path.read_text().splitlines()]
    rows = [row for row in rows if row and row[0].isdigit()]
    if not rows:
        raise InvalidInput(f"{path} holds no purchases")
    date_column = 2 if len(rows[0]) == 5 else 1
    ids = [row[0] for row in rows]
    dates = np.array(
        [f"{r[date_column][:4]}-{r[date_column][4:6]}-{r[date_column][6:]}" for r in rows],
        dtype="datetime64[D]",
    )
    days = (dates - CDNOW_ORIGIN).astype(float)
    values = np.array([float(row[-1]) for row in rows])
    return PurchaseLog(customer_ids=ids, days=days, values=values)


TELCO_NUMERIC = ("tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen")


def load_telco_churn(path: Path) -> tuple[list[dict[str, float | str | None]], list[int]]:
    """Read the IBM Telco churn CSV into feature rows and 0/1 churn labels.

    Numeric columns become floats (the 11 blank `TotalCharges` become None, for the model to
    impute); the customer id and the label are not features.
    """
    rows: list[dict[str, float | str | None]] = []
    labels: list[int] = []
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle):
            labels.append(1 if record.pop("Churn") == "Yes" else 0)
            record.pop("customerID")
            row: dict[str, float | str | None] = {}
            for key, raw in record.items():
                if key in TELCO_NUMERIC:
                    row[key] = float(raw) if raw.strip() else None
                else:
                    row[key] = raw
            rows.append(row)
    return rows, labels
