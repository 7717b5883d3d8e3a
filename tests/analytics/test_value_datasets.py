"""The value models against published figures on the real datasets in ../shared/datasets.

Skipped when the datasets folder is absent; CI always has it. `bench/value_eval.py` prints the same
checks with weekly tracking.
"""

from pathlib import Path

import pytest

from ascolto.analytics.value import clv, datasets
from ascolto.analytics.value.evaluation import cdnow_tracking, telco_churn_check

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
pytestmark = pytest.mark.skipif(not DATASETS.is_dir(), reason="shared datasets not available")


@pytest.fixture(scope="module")
def cdnow_sample():
    return datasets.load_cdnow(DATASETS / "cdnow" / "CDNOW_sample.txt")


@pytest.fixture(scope="module")
def cdnow_master():
    return datasets.load_cdnow(DATASETS / "cdnow" / "CDNOW_master.txt")


def test_summary_matches_the_one_shipped_with_the_sample(cdnow_sample):
    summary = clv.summarise_purchases(
        cdnow_sample.customer_ids,
        cdnow_sample.days,
        calibration_end=datasets.CDNOW_CALIBRATION_END_DAY,
    )
    shipped = (DATASETS / "cdnow" / "cdnow_customers_summary.csv").read_text().splitlines()[1:]
    rows = [tuple(float(v) for v in line.split(",")[1:]) for line in shipped]

    assert len(rows) == len(summary.customer_ids) == 2357
    for (x, t_x, big_t), fx, ft, fT in zip(
        rows, summary.frequency, summary.recency, summary.age, strict=True
    ):
        assert (fx, round(ft, 2), round(fT, 2)) == (x, t_x, big_t)


def test_bgnbd_on_the_papers_sample_reproduces_the_published_fit(cdnow_sample):
    tracking = cdnow_tracking(cdnow_sample, "bgnbd")

    # Fader, Hardie & Lee (2005): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
    fitted = tracking.model
    assert isinstance(fitted, clv.BGNBDParams)
    assert (fitted.r, fitted.alpha, fitted.a, fitted.b) == pytest.approx(
        (0.243, 4.414, 0.793, 2.426), abs=6e-4
    )
    assert fitted.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert abs(tracking.error_at_end) <= 0.05
    assert abs(tracking.worst_holdout_error) <= 0.05


def test_pareto_nbd_on_the_papers_sample_reproduces_the_published_fit(cdnow_sample):
    tracking = cdnow_tracking(cdnow_sample, "pareto_nbd")

    # Fader, Hardie & Lee (2005): r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67, LL = -9595.0.
    params = tracking.model.as_tuple()
    assert params == pytest.approx((0.553, 10.578, 0.606, 11.669), abs=1e-3)
    assert tracking.model.log_likelihood == pytest.approx(-9595.0, abs=0.05)
    assert abs(tracking.error_at_end) <= 0.05


def test_gamma_gamma_on_the_papers_sample_reproduces_the_published_fit(cdnow_sample):
    summary = clv.summarise_purchases(
        cdnow_sample.customer_ids,
        cdnow_sample.days,
        cdnow_sample.values,
        calibration_end=datasets.CDNOW_CALIBRATION_END_DAY,
    )

    spend = clv.fit_gamma_gamma(summary.frequency, summary.mean_repeat_value)

    # Fader & Hardie (2013): p = 6.25, q = 3.74, gamma = 15.44 on 946 repeat buyers.
    assert spend.n_customers == 946
    assert (spend.p, spend.q, spend.gamma) == pytest.approx((6.25, 3.74, 15.44), abs=6e-3)


@pytest.mark.slow
def test_pareto_nbd_tracks_the_full_log_within_five_percent(cdnow_master):
    tracking = cdnow_tracking(cdnow_master, "pareto_nbd")

    assert tracking.customers == 23570
    assert abs(tracking.error_at_end) <= 0.05


def test_bgnbd_on_the_full_log_stays_near_its_measured_error(cdnow_master):
    tracking = cdnow_tracking(cdnow_master, "bgnbd")

    # Measured -6.1% at week 78 (docs/value-models.md): BG/NBD misses the 5% mark on the full
    # log, which is why the Pareto/NBD is offered. This guards against it getting any worse.
    assert tracking.customers == 23570
    assert -0.07 <= tracking.error_at_end <= 0.0


def test_churn_model_separates_telco_churners_on_a_held_out_split():
    check = telco_churn_check(DATASETS / "telco_churn" / "Telco-Customer-Churn.csv", folds=0)

    assert check.holdout_auc >= 0.84
