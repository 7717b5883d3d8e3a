"""Occupancy and workload against hand-computed cases: the definitions in pure Python, and the
database query the team view reads, which must give the same figures."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from ascolto.analytics import occupancy as occ
from ascolto.inbox.models import AvailabilitySpan, Conversation, HandlingInterval
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def spans(*pairs: tuple[float, float]) -> list[occ.Span]:
    return [(at(a), at(b)) for a, b in pairs]


# Period: minutes 0 to 600 (08:00-18:00).
START, END = at(0), at(600)


def test_occupancy_is_handle_time_inside_online_time_over_online_time():
    # Online 60-180 (120 min); handling 70-100 and 120-150 (60 min): 50 %.
    value = occ.occupancy(
        online=spans((60, 180)), handling=spans((70, 100), (120, 150)), start=START, end=END
    )
    assert value == pytest.approx(0.5)


def test_two_conversations_at_once_count_once():
    # Online 0-100; handling 10-40 and 20-60 overlap: busy 10-60 = 50 min.
    value = occ.occupancy(
        online=spans((0, 100)), handling=spans((10, 40), (20, 60)), start=START, end=END
    )
    assert value == pytest.approx(0.5)


def test_handling_outside_online_time_is_left_out():
    # Online 100-200; handling 50-120 (20 min inside) and 190-260 (10 min inside);
    # handling while away or offline (300-400) does not count.
    value = occ.occupancy(
        online=spans((100, 200)),
        handling=spans((50, 120), (190, 260), (300, 400)),
        start=START,
        end=END,
    )
    assert value == pytest.approx(30 / 100)


def test_spans_crossing_the_period_edges_are_cut_at_them():
    # Online -60..30 and 570..660: 30 + 30 min inside the period.
    # Handling -50..10 (10 min inside) and 580..640 (20 min inside).
    online = spans((-60, 30), (570, 660))
    handling = spans((-50, 10), (580, 640))
    assert occ.online_seconds(online, start=START, end=END) == 60 * 60
    assert occ.occupancy(online=online, handling=handling, start=START, end=END) == pytest.approx(
        30 / 60
    )


def test_no_online_time_is_none_not_zero():
    assert occ.occupancy(online=[], handling=spans((10, 20)), start=START, end=END) is None
    # Online only outside the period.
    assert (
        occ.occupancy(online=spans((-100, -10)), handling=spans((10, 20)), start=START, end=END)
        is None
    )


def test_online_without_handling_is_zero():
    assert occ.occupancy(online=spans((0, 60)), handling=[], start=START, end=END) == 0.0


def test_capacity_follows_the_routing_rule():
    capacity = {"webchat": 3, "email": "10", "*": 5}
    assert occ.capacity_limit(capacity, "webchat") == 3
    assert occ.capacity_limit(capacity, "email") == 10
    assert occ.capacity_limit(capacity, "sms") == 5
    assert occ.capacity_limit(capacity) == 5
    assert occ.capacity_limit({"webchat": 3}) is None
    assert occ.capacity_limit({}, "webchat") is None
    assert occ.capacity_limit({"*": "many"}) == 0
    assert occ.capacity_limit([]) is None


def test_load_is_open_over_capacity():
    assert occ.load(4, 5) == pytest.approx(0.8)
    assert occ.load(6, 5) == pytest.approx(1.2)
    assert occ.load(3, None) is None
    assert occ.load(3, 0) is None


# --- The database query -----------------------------------------------------------------------


def _agent(workspace: Any) -> Any:
    user = UserFactory(password=None)
    MembershipFactory(workspace=workspace, user=user)
    return user


def _conversation(workspace: Any) -> Conversation:
    inbox = InboxFactory(workspace=workspace)
    return Conversation.objects.create(
        workspace=workspace,
        inbox=inbox,
        channel=inbox.channel,
        customer=CustomerFactory(workspace=workspace),
    )


def _store(
    workspace: Any,
    agent: Any,
    online: list[tuple[str, float, float | None]],
    handling: list[tuple[float, float]],
) -> None:
    conversation = _conversation(workspace)
    for status, a, b in online:
        AvailabilitySpan.objects.create(
            workspace=workspace,
            agent=agent,
            status=status,
            started_at=at(a),
            ended_at=None if b is None else at(b),
        )
    for a, b in handling:
        HandlingInterval.objects.create(
            workspace=workspace,
            conversation=conversation,
            agent=agent,
            started_at=at(a),
            ended_at=at(b),
        )


def test_the_query_gives_the_hand_computed_figures(workspace, other_workspace):
    anna, ben, carl = _agent(workspace), _agent(workspace), _agent(workspace)
    # Anna: online across the start (-60..90: 90 min inside), away 90..120, online 120..180;
    # handling -30..20 (20 in), 30..50 and 40..70 (overlap: 40 min), 100..110 (while away),
    # 170..200 (10 min in): busy 70 of 150 online minutes.
    _store(
        workspace,
        anna,
        [("online", -60, 90), ("away", 90, 120), ("online", 120, 180)],
        [(-30, 20), (30, 50), (40, 70), (100, 110), (170, 200)],
    )
    # Ben: still online since 540; now is 590, so 50 min; handled 550..560.
    _store(workspace, ben, [("online", 540, None)], [(550, 560)])
    # Carl: only away; no online time, so not listed.
    _store(workspace, carl, [("away", 0, 300)], [(10, 20)])
    # Another workspace's spans of Anna do not count.
    MembershipFactory(workspace=other_workspace, user=anna)
    _store(other_workspace, anna, [("online", 200, 400)], [(210, 400)])

    result = occ.online_and_busy_seconds(workspace=workspace, start=START, end=END, now=at(590))

    assert set(result) == {anna.pk, ben.pk}
    assert result[anna.pk].online_seconds == pytest.approx(150 * 60, abs=0.01)
    assert result[anna.pk].busy_seconds == pytest.approx(70 * 60, abs=0.01)
    assert result[anna.pk].occupancy == pytest.approx(70 / 150, abs=1e-6)
    assert result[ben.pk].online_seconds == pytest.approx(50 * 60, abs=0.01)
    assert result[ben.pk].occupancy == pytest.approx(10 / 50, abs=1e-6)


def test_an_open_span_counts_to_the_period_end_when_now_is_later(workspace):
    anna = _agent(workspace)
    _store(workspace, anna, [("online", 500, None)], [])

    result = occ.online_and_busy_seconds(workspace=workspace, start=START, end=END, now=at(900))

    assert result[anna.pk].online_seconds == pytest.approx(100 * 60, abs=0.01)
    assert result[anna.pk].occupancy == 0.0


def test_the_query_can_be_narrowed_to_some_agents(workspace):
    anna, ben = _agent(workspace), _agent(workspace)
    _store(workspace, anna, [("online", 0, 60)], [])
    _store(workspace, ben, [("online", 0, 60)], [])

    only_ben = occ.online_and_busy_seconds(
        workspace=workspace, start=START, end=END, now=END, agent_ids=[ben.pk]
    )
    nobody = occ.online_and_busy_seconds(
        workspace=workspace, start=START, end=END, now=END, agent_ids=[]
    )

    assert set(only_ben) == {ben.pk}
    assert nobody == {}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_query_agrees_with_the_definition_on_random_spans(workspace, seed):
    rng = random.Random(seed)
    agents = [_agent(workspace) for _ in range(3)]
    now = at(rng.randrange(300, 900))
    expected: dict[int, tuple[float, float | None]] = {}
    for agent in agents:
        # Spans follow each other up to now; the last one may still be open.
        online: list[tuple[str, float, float | None]] = []
        moment = float(rng.randrange(-200, 100))
        limit = (now - T0).total_seconds() / 60
        while moment < limit:
            status = rng.choice(["online", "online", "away"])
            end: float | None = moment + rng.randrange(1, 120)
            if end is not None and end >= limit:
                end = None if rng.random() < 0.5 else limit
            online.append((status, moment, end))
            if end is None:
                break
            moment = end + rng.choice([0, 0, rng.randrange(1, 60)])
        handling = []
        for _ in range(rng.randrange(0, 12)):
            a = float(rng.randrange(-240, 800))
            handling.append((a, a + rng.randrange(1, 180)))
        _store(workspace, agent, online, handling)
        online_spans = [
            (at(a), at(b) if b is not None else now)
            for status, a, b in online
            if status == "online"
        ]
        seconds = occ.online_seconds(online_spans, start=START, end=END)
        value = occ.occupancy(online=online_spans, handling=spans(*handling), start=START, end=END)
        if seconds > 0:
            expected[agent.pk] = (seconds, value)

    result = occ.online_and_busy_seconds(workspace=workspace, start=START, end=END, now=now)

    assert set(result) == set(expected)
    for agent_id, (seconds, value) in expected.items():
        assert result[agent_id].online_seconds == pytest.approx(seconds, abs=0.01)
        assert result[agent_id].occupancy == pytest.approx(value, abs=1e-6)
