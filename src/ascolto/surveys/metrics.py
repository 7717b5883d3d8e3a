"""Survey metric maths, pure: no database, no Django. Definitions: docs/decisions/0007-surveys.md.

The database counts (promoters, detractors, satisfied answers, effort sums) per group in one
GROUP BY; these functions turn counts into the figures people read, so the same maths serves a
hand-computed test and a million responses.

- NPS = 100 x (promoters - detractors) / n, promoters answer 9-10, detractors 0-6. Its 95%
  confidence interval uses the variance of the difference of the two shares
  Var(p_P - p_D) = (p_P + p_D - (p_P - p_D)^2) / n, so NPS +/- 1.96 x 100 x sqrt Var, clipped to
  [-100, 100].
- CSAT % = 100 x answers of 4 or 5 / answers (1-5 scale).
- CES = mean answer (1-7, agreement that the company made it easy: higher is easier).
- Response rate = 100 x invitations answered / invitations sent.
A group with no answers of a kind has None for that figure, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

Z_95 = 1.959963984540054
PROMOTER_MIN = 9
DETRACTOR_MAX = 6
CSAT_SATISFIED_MIN = 4


@dataclass(frozen=True, slots=True)
class Nps:
    n: int
    promoters: int
    passives: int
    detractors: int
    score: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def margin(self) -> float | None:
        if self.score is None or self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_high - self.ci_low) / 2


@dataclass(frozen=True, slots=True)
class Csat:
    n: int
    satisfied: int
    percent: float | None


@dataclass(frozen=True, slots=True)
class Ces:
    n: int
    average: float | None


@dataclass(frozen=True, slots=True)
class Rate:
    sent: int
    answered: int
    percent: float | None


def nps_from_counts(*, promoters: int, passives: int, detractors: int) -> Nps:
    """NPS and its 95% confidence interval from the three counts."""
    if min(promoters, passives, detractors) < 0:
        raise ValueError("Counts cannot be negative.")
    n = promoters + passives + detractors
    if n == 0:
        return Nps(0, 0, 0, 0, None, None, None)
    p_p, p_d = promoters / n, detractors / n
    diff = p_p - p_d
    variance = max(0.0, (p_p + p_d - diff * diff) / n)
    half = Z_95 * 100 * math.sqrt(variance)
    score = 100 * diff
    return Nps(
        n=n,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        score=score,
        ci_low=max(-100.0, score - half),
        ci_high=min(100.0, score + half),
    )


def nps(scores: Iterable[int]) -> Nps:
    """NPS of raw 0-10 answers."""
    promoters = passives = detractors = 0
    for value in scores:
        if not 0 <= value <= 10:
            raise ValueError(f"An NPS answer is 0 to 10, not {value}.")
        if value >= PROMOTER_MIN:
            promoters += 1
        elif value <= DETRACTOR_MAX:
            detractors += 1
        else:
            passives += 1
    return nps_from_counts(promoters=promoters, passives=passives, detractors=detractors)


def csat_from_counts(*, n: int, satisfied: int) -> Csat:
    if not 0 <= satisfied <= n:
        raise ValueError("Satisfied answers are between 0 and all answers.")
    return Csat(n=n, satisfied=satisfied, percent=100 * satisfied / n if n else None)


def csat(scores: Iterable[int]) -> Csat:
    """CSAT % of raw 1-5 answers."""
    values = list(scores)
    if any(not 1 <= v <= 5 for v in values):
        raise ValueError("A CSAT answer is 1 to 5.")
    return csat_from_counts(n=len(values), satisfied=sum(v >= CSAT_SATISFIED_MIN for v in values))


def ces_from_counts(*, n: int, total: float) -> Ces:
    if n < 0:
        raise ValueError("Counts cannot be negative.")
    return Ces(n=n, average=total / n if n else None)


def ces(scores: Iterable[int]) -> Ces:
    """CES average of raw 1-7 answers."""
    values = list(scores)
    if any(not 1 <= v <= 7 for v in values):
        raise ValueError("A CES answer is 1 to 7.")
    return ces_from_counts(n=len(values), total=sum(values))


def response_rate(*, sent: int, answered: int) -> Rate:
    if not 0 <= answered <= sent:
        raise ValueError("Answered invitations are between 0 and those sent.")
    return Rate(sent=sent, answered=answered, percent=100 * answered / sent if sent else None)


@dataclass(frozen=True, slots=True)
class GroupCounts:
    """What the database counts for one group (or the whole selection)."""

    key: str
    responses: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    csat_n: int = 0
    csat_satisfied: int = 0
    ces_n: int = 0
    ces_total: float = 0.0
    sent: int = 0
    answered: int = 0


@dataclass(frozen=True, slots=True)
class GroupMetrics:
    key: str
    responses: int
    nps: Nps
    csat: Csat
    ces: Ces
    rate: Rate


def summarize(counts: GroupCounts) -> GroupMetrics:
    return GroupMetrics(
        key=counts.key,
        responses=counts.responses,
        nps=nps_from_counts(
            promoters=counts.promoters, passives=counts.passives, detractors=counts.detractors
        ),
        csat=csat_from_counts(n=counts.csat_n, satisfied=counts.csat_satisfied),
        ces=ces_from_counts(n=counts.ces_n, total=counts.ces_total),
        rate=response_rate(sent=counts.sent, answered=min(counts.answered, counts.sent)),
    )


# --- Closed loop -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoopCase:
    """One follow-up, as the closed-loop figures need it (hours from the answer)."""

    hours_to_first_contact: float | None
    hours_to_close: float | None
    score_before: int | None = None
    score_after: int | None = None


@dataclass(frozen=True, slots=True)
class LoopSummary:
    poor_answers: int
    followed_up: int
    contacted: int
    closed: int
    share_followed_up: float | None
    median_hours_to_first_contact: float | None
    median_hours_to_close: float | None
    resurveyed: int
    mean_resurvey_change: float | None


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def closed_loop(*, poor_answers: int, cases: list[LoopCase]) -> LoopSummary:
    """Share of poor answers (detractors, dissatisfied, high effort, negative comments) whose
    customer was contacted, times to first contact and to closing the
    loop (medians, hours), and the mean change of score when the customer answered again."""
    first = [c.hours_to_first_contact for c in cases if c.hours_to_first_contact is not None]
    close = [c.hours_to_close for c in cases if c.hours_to_close is not None]
    changes = [
        c.score_after - c.score_before
        for c in cases
        if c.score_before is not None and c.score_after is not None
    ]
    return LoopSummary(
        poor_answers=poor_answers,
        followed_up=len(cases),
        contacted=len(first),
        closed=len(close),
        share_followed_up=(
            100 * min(len(first), poor_answers) / poor_answers if poor_answers else None
        ),
        median_hours_to_first_contact=median(first),
        median_hours_to_close=median(close),
        resurveyed=len(changes),
        mean_resurvey_change=sum(changes) / len(changes) if changes else None,
    )
