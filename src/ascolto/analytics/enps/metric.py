"""The employee NPS definition, pure: no database.

eNPS = % promoters (9-10) - % detractors (0-6) of a pulse's answers, from -100 to 100, the
same maths as the customers' NPS (`surveys.metrics`). It is shown only from MIN_ANSWERS answers
on: below that, a figure or a comment could point at one person. Response rate = answers /
agents asked, in percent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ascolto.surveys import metrics as survey_metrics

MIN_ANSWERS = 3
SCORE_MIN, SCORE_MAX = 0, 10


@dataclass(frozen=True, slots=True)
class Enps:
    answers: int
    promoters: int
    passives: int
    detractors: int
    asked: int
    score: float | None  # None when hidden (fewer than MIN_ANSWERS answers)
    response_rate: float | None  # None when nobody was asked

    @property
    def hidden(self) -> bool:
        return self.answers < MIN_ANSWERS

    def share(self, count: int) -> float | None:
        return None if self.hidden else 100 * count / self.answers


def enps_from_counts(*, promoters: int, passives: int, detractors: int, asked: int) -> Enps:
    """eNPS and response rate of a pulse from its counts. The score is None below MIN_ANSWERS
    answers; the response rate is None when nobody was asked. Raises ValueError on negative
    counts."""
    if asked < 0:
        raise ValueError("Counts cannot be negative.")
    nps = survey_metrics.nps_from_counts(
        promoters=promoters, passives=passives, detractors=detractors
    )
    return Enps(
        answers=nps.n,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        asked=asked,
        score=nps.score if nps.n >= MIN_ANSWERS else None,
        response_rate=100 * nps.n / asked if asked else None,
    )


def enps(scores: Iterable[int], *, asked: int) -> Enps:
    """eNPS of raw 0-10 answers. Raises ValueError for an answer outside 0-10."""
    promoters = passives = detractors = 0
    for value in scores:
        if not SCORE_MIN <= value <= SCORE_MAX:
            raise ValueError(f"An eNPS answer is 0 to 10, not {value}.")
        if value >= survey_metrics.PROMOTER_MIN:
            promoters += 1
        elif value <= survey_metrics.DETRACTOR_MAX:
            detractors += 1
        else:
            passives += 1
    return enps_from_counts(
        promoters=promoters, passives=passives, detractors=detractors, asked=asked
    )
