"""A dashboard's survey selection (surveys/selections.py) gives the figures, NPS by channel and
the invitation funnel of counting every answer and invitation, whether whole days come from the
daily rollups (their per-channel rows of combined filters) or not."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.surveys import aggregates as agg
from ascolto.surveys import metrics, rollups
from ascolto.surveys.models import DailyRollup, InterceptAnswer, Invitation, Response, RollupState
from ascolto.surveys.selections import Selection, selection_figures
from tests.surveys.test_rollups import DAYS, _fill, _today_start


def _reference(workspace: Any, s: Selection) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """Counts per channel and the funnel, from every row in Python: the definition."""

    def wanted(value: Any, chosen: Any) -> bool:
        return chosen is None or value == chosen

    groups: dict[str, Counter[str]] = {}

    def count(channel: str, nps: int | None, csat: int | None, ces: int | None) -> None:
        c = groups.setdefault(channel, Counter())
        c["responses"] += 1
        if nps is not None:
            c["promoters"] += nps >= metrics.PROMOTER_MIN
            c["passives"] += metrics.DETRACTOR_MAX < nps < metrics.PROMOTER_MIN
            c["detractors"] += nps <= metrics.DETRACTOR_MAX
        if csat is not None:
            c["csat_n"] += 1
            c["csat_satisfied"] += csat >= metrics.CSAT_SATISFIED_MIN
        if ces is not None:
            c["ces_n"] += 1
            c["ces_total"] += ces

    for r in Response.objects.filter(workspace=workspace):
        if (
            s.since <= r.created_at < s.until
            and wanted(r.channel, s.channel)
            and wanted(r.team_id, s.team_id)
            and wanted(r.agent_id, s.agent_id)
            and wanted(r.segment, s.segment)
            and wanted(r.language, s.language)
        ):
            count(r.channel, r.nps_score, r.csat_score, r.ces_score)
    for a in InterceptAnswer.objects.filter(workspace=workspace):
        if (
            s.since <= a.created_at < s.until
            and wanted(agg.WEBSITE_CHANNEL, s.channel)
            and s.team_id is None
            and s.agent_id is None
            and wanted("", s.segment)
            and wanted(a.language, s.language)
        ):
            count(agg.WEBSITE_CHANNEL, a.nps_score, a.csat_score, a.ces_score)
    funnel: Counter[str] = Counter()
    for i in Invitation.objects.filter(workspace=workspace).select_related("customer"):
        if (
            i.sent_at is not None
            and i.status in ("sent", "bounced")
            and s.since <= i.sent_at < s.until
            and wanted(i.context_channel or i.channel, s.channel)
            and wanted(i.team_id, s.team_id)
            and wanted(i.agent_id, s.agent_id)
            and wanted(i.customer.value_tier, s.segment)
            and wanted(i.language, s.language)
        ):
            funnel["sent"] += 1
            funnel["opened"] += i.opened_at is not None
            funnel["answered"] += i.answered_at is not None
    return groups, funnel


def _summary(counts: Counter[str], key: str = "") -> metrics.GroupMetrics:
    return metrics.summarize(
        metrics.GroupCounts(
            key=key, **{n: int(counts[n]) for n in agg.RESPONSE_COUNTS if n != "ces_total"},
            ces_total=float(counts["ces_total"]),
        )
    )  # fmt: skip


hours = st.integers(min_value=-DAYS * 24 - 30, max_value=30)


@pytest.mark.parametrize("seed", [4, 5])
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    since_hours=hours,
    length_hours=st.integers(min_value=1, max_value=DAYS * 24 + 60),
    minutes=st.integers(min_value=0, max_value=59),
    channel=st.sampled_from([None, "email", "webchat", "whatsapp", "website", ""]),
    team=st.sampled_from([None, 0, 1]),
    agent=st.sampled_from([None, 0, 2]),
    segment=st.sampled_from([None, "gold", ""]),
    language=st.sampled_from([None, "it", "he"]),
    by_channel=st.booleans(),
)
def test_selection_figures_equal_counting_every_row(
    workspace, seed, since_hours, length_hours, minutes, channel, team, agent, segment, language,
    by_channel,
):  # fmt: skip
    if not RollupState.objects.filter(workspace=workspace).exists():
        data = _fill(workspace, seed)
        rollups.rollups_refresh(workspace=workspace)
        workspace._selection_test_data = data
    data = workspace._selection_test_data
    since = _today_start() + dt.timedelta(hours=since_hours, minutes=minutes)
    selection = Selection(
        since=since,
        until=since + dt.timedelta(hours=length_hours),
        channel=channel,
        team_id=None if team is None else data["teams"][team].pk,
        agent_id=None if agent is None else data["agents"][agent].pk,
        segment=segment,
        language=language,
    )

    found = selection_figures(
        workspace=workspace, selection=selection, by_channel=by_channel, funnel=True
    )

    groups, funnel = _reference(workspace, selection)
    assert found.totals == _summary(sum(groups.values(), Counter()))
    assert found.funnel == {name: funnel[name] for name in agg.FUNNEL_COUNTS}
    if by_channel:
        assert found.by_channel == {key: _summary(c, key) for key, c in groups.items()}
    else:
        assert found.by_channel == {}


def test_combined_filters_read_their_per_channel_rows(workspace):
    data = _fill(workspace, seed=6, count=80)
    rollups.rollups_refresh(workspace=workspace)
    rows = DailyRollup.objects.filter(workspace=workspace)

    assert set(rows.exclude(channel="").values_list("dimension", flat=True)) == {
        "team/channel",
        "segment/channel",
        "language/channel",
        "team+segment/channel",
        "team+language/channel",
        "segment+language/channel",
    }
    team = data["teams"][0].pk
    pair = rows.filter(dimension="team+language/channel", key=f"{team}|it")
    answered = Response.objects.filter(
        workspace=workspace, team_id=team, language="it", created_at__lt=_today_start()
    )
    assert sum(pair.values_list("responses", flat=True)) == answered.count()
    assert sum(rows.filter(dimension="").values_list("opened", flat=True)) == (
        Invitation.objects.filter(
            workspace=workspace, opened_at__isnull=False, sent_at__lt=_today_start()
        ).count()
    )
