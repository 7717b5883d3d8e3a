"""Score maths against hand-computed cases, including confidence bounds and empty groups."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ascolto.surveys import metrics


def test_nps_and_its_confidence_interval_by_hand():
    # 20 answers: 10 promoters (9-10), 5 passives (7-8), 5 detractors (0-6).
    # p_P = 0.5, p_D = 0.25, NPS = 100 * 0.25 = 25.
    # Var = (0.5 + 0.25 - 0.25^2) / 20 = 0.6875 / 20 = 0.034375; sqrt = 0.185405
    # half width = 1.959964 * 100 * 0.185405 = 36.3387 -> [-11.3387, 61.3387]
    answers = [10] * 6 + [9] * 4 + [8] * 3 + [7] * 2 + [6, 5, 3, 1, 0]

    result = metrics.nps(answers)

    assert (result.n, result.promoters, result.passives, result.detractors) == (20, 10, 5, 5)
    assert result.score == pytest.approx(25.0)
    assert result.ci_low == pytest.approx(-11.3387, abs=1e-3)
    assert result.ci_high == pytest.approx(61.3387, abs=1e-3)
    assert result.margin == pytest.approx(36.3387, abs=1e-3)


def test_nps_interval_is_clipped_to_the_scale():
    # 1 promoter, 1 passive: NPS 50, Var = (0.5 - 0.25) / 2 = 0.125, half = 195.9964 * 0.353553
    # = 69.2951, so the upper bound 119.3 is clipped to 100.
    result = metrics.nps([10, 7])

    assert result.score == pytest.approx(50.0)
    assert result.ci_low == pytest.approx(-19.2951, abs=1e-3)
    assert result.ci_high == 100.0


def test_unanimous_answers_have_a_zero_width_interval():
    assert metrics.nps([9, 10, 10]) == metrics.Nps(3, 3, 0, 0, 100.0, 100.0, 100.0)
    only_detractors = metrics.nps([0, 6])
    assert (only_detractors.score, only_detractors.ci_low, only_detractors.ci_high) == (
        -100.0,
        -100.0,
        -100.0,
    )


def test_empty_groups_have_no_figures_rather_than_zero():
    assert metrics.nps([]).score is None
    assert metrics.nps([]).ci_low is None
    assert metrics.nps([]).margin is None
    assert metrics.csat([]).percent is None
    assert metrics.ces([]).average is None
    assert metrics.response_rate(sent=0, answered=0).percent is None

    group = metrics.summarize(metrics.GroupCounts(key="email", csat_n=4, csat_satisfied=3))
    assert group.nps.score is None
    assert group.ces.average is None
    assert group.csat.percent == pytest.approx(75.0)


def test_csat_counts_four_and_five_as_satisfied():
    # 5, 4, 4 satisfied of 1, 2, 3, 4, 4, 5 -> 3 / 6 = 50 %.
    result = metrics.csat([1, 2, 3, 4, 4, 5])

    assert (result.n, result.satisfied) == (6, 3)
    assert result.percent == pytest.approx(50.0)


def test_ces_is_the_mean_answer():
    assert metrics.ces([7, 6, 2, 5]).average == pytest.approx(5.0)


def test_response_rate():
    assert metrics.response_rate(sent=8, answered=2).percent == pytest.approx(25.0)
    with pytest.raises(ValueError, match="between"):
        metrics.response_rate(sent=1, answered=2)


@pytest.mark.parametrize("bad", [[11], [-1]])
def test_out_of_scale_answers_are_refused(bad):
    with pytest.raises(ValueError, match="0 to 10"):
        metrics.nps(bad)


def test_closed_loop_figures():
    cases = [
        metrics.LoopCase(
            hours_to_first_contact=2, hours_to_close=30, score_before=3, score_after=8
        ),
        metrics.LoopCase(
            hours_to_first_contact=6, hours_to_close=None, score_before=5, score_after=None
        ),
        metrics.LoopCase(hours_to_first_contact=None, hours_to_close=None, score_before=1),
        metrics.LoopCase(
            hours_to_first_contact=10, hours_to_close=50, score_before=6, score_after=4
        ),
    ]

    summary = metrics.closed_loop(poor_answers=4, cases=cases)

    assert summary.contacted == 3
    assert summary.closed == 2
    assert summary.share_followed_up == pytest.approx(75.0)
    assert summary.median_hours_to_first_contact == 6
    assert summary.median_hours_to_close == pytest.approx(40.0)
    # (8 - 3) and (4 - 6): mean change +1.5 points.
    assert summary.resurveyed == 2
    assert summary.mean_resurvey_change == pytest.approx(1.5)
    assert metrics.closed_loop(poor_answers=0, cases=[]).share_followed_up is None


@given(st.lists(st.integers(min_value=0, max_value=10), max_size=300))
def test_counts_and_raw_answers_agree_and_the_interval_holds_the_score(answers):
    from_raw = metrics.nps(answers)
    from_counts = metrics.nps_from_counts(
        promoters=sum(a >= 9 for a in answers),
        passives=sum(7 <= a <= 8 for a in answers),
        detractors=sum(a <= 6 for a in answers),
    )

    assert from_raw == from_counts
    if answers:
        assert from_raw.score is not None
        assert from_raw.ci_low is not None
        assert from_raw.ci_high is not None
        assert -100 <= from_raw.ci_low <= from_raw.score <= from_raw.ci_high <= 100
        assert not math.isnan(from_raw.ci_low)
