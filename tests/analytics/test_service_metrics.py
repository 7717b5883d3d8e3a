"""Service metric definitions against hand-computed cases (docs/metrics.md)."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ascolto.analytics import service_metrics as m
from ascolto.analytics.service_metrics import ConversationFacts, MessageFact

T = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


def at(minutes):
    return T + dt.timedelta(minutes=minutes)


def conv(id=1, customer=1, **kwargs):
    base = {"channel": "email", "created_at": T, "status": "open"}
    base.update(kwargs)
    return ConversationFacts(id=id, customer_id=customer, **base)


def test_first_response_time_and_no_response_yet():
    answered = conv(first_customer_message_at=at(0), first_response_at=at(42))
    waiting = conv(first_customer_message_at=at(0))
    proactive = conv(first_response_at=at(5))
    assert m.first_response_time(answered) == 42 * 60
    assert m.first_response_time(waiting) is None
    assert m.first_response_time(proactive) is None


def test_first_response_in_business_time_uses_the_clock():
    def office(start, end):  # a clock where only the first 10 minutes count
        return min(600.0, (end - start).total_seconds())

    answered = conv(first_customer_message_at=at(0), first_response_at=at(42))
    assert m.first_response_time(answered, office) == 600


def test_next_response_times_skip_the_first_and_open_waits():
    c = conv(
        messages=[
            MessageFact(at(0), "inbound"),
            MessageFact(at(10), "outbound"),  # first response: not a next response
            MessageFact(at(20), "inbound"),  # wait starts
            MessageFact(at(25), "inbound"),  # still the same wait
            MessageFact(at(50), "outbound"),  # 30 minutes
            MessageFact(at(55), "outbound"),
            MessageFact(at(60), "bot"),
            MessageFact(at(70), "inbound"),  # unanswered: not counted
        ]
    )
    assert m.next_response_times(c) == [30 * 60]


def test_resolution_time_counts_to_the_final_resolution():
    reopened = conv(
        status="resolved", first_customer_message_at=at(0), resolved_at=at(300), reopen_count=1
    )
    open_again = conv(status="open", first_customer_message_at=at(0), resolved_at=None)
    assert m.resolution_time(reopened) == 300 * 60
    assert m.resolution_time(open_again) is None


def test_handle_time_merges_overlaps_per_agent():
    c = conv(
        handling=[
            (1, at(0), at(10)),
            (1, at(5), at(12)),  # overlaps the first: 12 minutes in all for agent 1
            (1, at(20), at(21)),  # +1
            (2, at(0), at(3)),  # another agent at the same time: +3
        ]
    )
    assert m.handle_time(c) == (12 + 1 + 3) * 60


def test_first_contact_resolution():
    now = at(60 * 24 * 30)
    one_touch = conv(
        1, customer=1, status="resolved", first_customer_message_at=at(0), resolved_at=at(60)
    )
    reopened = conv(
        2,
        customer=2,
        status="resolved",
        first_customer_message_at=at(0),
        resolved_at=at(60),
        reopen_count=1,
    )
    came_back = conv(
        3, customer=3, status="resolved", first_customer_message_at=at(0), resolved_at=at(60)
    )
    recontact = conv(4, customer=3, first_customer_message_at=at(60 * 24 * 3))  # 3 days later
    too_recent = conv(
        5,
        customer=4,
        status="resolved",
        first_customer_message_at=now - dt.timedelta(days=2),
        resolved_at=now - dt.timedelta(days=1),
    )
    everything = [one_touch, reopened, came_back, recontact, too_recent]

    rate = m.first_contact_resolution_rate(everything, everything, now=now)
    assert rate == pytest.approx(1 / 3)  # judged: 1, 2, 3; only 1 is a first-contact resolution


def test_rates_on_empty_groups_are_none():
    assert m.reopen_rate([]) is None
    assert m.transfers_per_conversation([]) is None
    assert m.first_contact_resolution_rate([], [], now=T) is None
    assert m.automation_rate([]) is None
    assert m.summarize([]) == m.Summary(0, None, None, None)


def test_sla_compliance_judges_only_what_is_due():
    now = at(100)
    met = conv(first_response_due_at=at(30), first_response_at=at(20))
    missed = conv(first_response_due_at=at(30), first_response_at=at(40))
    overdue = conv(first_response_due_at=at(30))
    not_yet = conv(first_response_due_at=at(200))
    result = m.sla_compliance([met, missed, overdue, not_yet], now=now)
    assert result["first_response"] == pytest.approx(1 / 3)
    assert result["resolution"] is None


def test_heatmap_uses_the_workspace_time_zone():
    late_utc = conv(
        first_customer_message_at=dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    )  # Sunday UTC
    heat = m.volume_heatmap([late_utc], tz="Europe/Rome")
    assert heat == {(0, 0): 1}  # Monday 00:30 in Rome


def test_backlog_and_summary():
    now = at(120)
    items = [
        conv(status="open", first_customer_message_at=at(0)),
        conv(status="pending", first_customer_message_at=at(60)),
        conv(status="resolved", first_customer_message_at=at(0), resolved_at=at(10)),
    ]
    summary = m.backlog(items, now=now)
    assert summary.count == 2
    assert summary.mean == 90 * 60


@given(st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=1, max_size=50))
def test_summary_is_ordered(values):
    s = m.summarize(values)
    assert min(values) <= s.median <= max(values)
    assert s.median <= s.p90 <= max(values)
