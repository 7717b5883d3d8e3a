"""Experiments: assignment, the survey-delay lever end to end, and results read from the data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.analytics.experiments import results, services
from ascolto.analytics.models import Experiment, ExperimentAssignment
from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.core.models import OutboxEvent
from ascolto.inbox import services as inbox_services
from ascolto.surveys import services as survey_services
from ascolto.surveys.models import Invitation
from tests.accounts.factories import WorkspaceFactory
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.inbox.factories import InboxFactory
from tests.surveys.factories import SYSTEM, consenting_customer, dispatch_pending, make_survey

TWO = [{"key": "A", "weight": 50, "payload": {}}, {"key": "B", "weight": 50, "payload": {}}]


def make_experiment(workspace: Any, **fields: Any) -> Experiment:
    fields = {
        "name": "Survey timing",
        "unit": "conversation",
        "variants": TWO,
        "metric": "survey_answered",
        "design": "fixed",
        "baseline": 0.2,
        "mde": 0.05,
    } | fields
    return services.experiment_create(workspace=workspace, **fields)


def running(workspace: Any, **fields: Any) -> Experiment:
    return services.experiment_start(experiment=make_experiment(workspace, **fields))


# --- creation ---------------------------------------------------------------------------------


def test_creating_computes_the_planned_sample_size(workspace: Any) -> None:
    binary = make_experiment(workspace, baseline=0.10, mde=0.02)
    continuous = make_experiment(workspace, metric="first_response_seconds", baseline=1, mde=0.5)

    assert binary.sample_size == 3841  # hand computation in test_experiments_stats
    assert continuous.sample_size == 63
    assert binary.status == "draft"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"variants": [{"key": "A", "weight": 1}]}, "variants"),
        ({"variants": [{"key": "A", "weight": 0}, {"key": "B", "weight": 1}]}, "variants"),
        ({"variants": [{"key": "A", "weight": -5}, {"key": "B", "weight": 1}]}, "variants"),
        ({"variants": [{"key": "A", "weight": 1}, {"key": "A", "weight": 1}]}, "variants"),
        (
            {
                "lever": "survey_delay",
                "variants": [
                    {"key": "A", "weight": 1, "payload": {"delay_minutes": -1}},
                    {"key": "B", "weight": 1},
                ],
            },
            "variants",
        ),
        ({"metric": "nope"}, "metric"),
        ({"metric": "converted"}, "metric"),  # a customer-level metric on conversations
        ({"baseline": 0.99, "mde": 0.05}, "baseline"),
        ({"alpha": 0.9}, "alpha"),
        ({"unit": "order"}, "unit"),
        ({"lever": "price"}, "lever"),
        ({"design": "bayes"}, "design"),
    ],
)
def test_bad_input_is_refused_field_by_field(workspace: Any, fields: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        make_experiment(workspace, **fields)
    assert field in caught.value.field_errors
    assert not Experiment.objects.exists()


def test_start_and_stop_follow_the_status(workspace: Any) -> None:
    e = make_experiment(workspace)
    with pytest.raises(Conflict):
        services.experiment_stop(experiment=e)
    services.experiment_start(experiment=e)
    assert e.status == "running"
    assert e.started_at is not None
    with pytest.raises(Conflict):
        services.experiment_start(experiment=e)
    services.experiment_stop(experiment=e)
    assert e.status == "stopped"
    assert e.stopped_at is not None
    names = list(OutboxEvent.objects.values_list("name", flat=True).order_by("id"))
    assert names == ["analytics.experiment.started", "analytics.experiment.stopped"]


def test_only_one_running_experiment_per_lever(workspace: Any) -> None:
    running(workspace, lever="survey_delay")
    with pytest.raises(Conflict):
        running(workspace, lever="survey_delay")
    running(WorkspaceFactory(), lever="survey_delay")  # another workspace is its own


# --- assignment -------------------------------------------------------------------------------


def test_assignment_is_recorded_once_and_never_changes(workspace: Any) -> None:
    e = running(workspace)
    first = services.experiment_assign(experiment=e, unit_id=42)
    e.variants = list(reversed(e.variants))  # even if the weights' order changed later
    again = services.experiment_assign(experiment=e, unit_id=42)

    assert first == again
    assert services.experiment_variant_for(experiment=e, unit_id=42) == first
    assert ExperimentAssignment.objects.filter(experiment=e).count() == 1
    assert services.experiment_variant_for(experiment=e, unit_id=43) is None


def test_a_stopped_experiment_assigns_no_new_units(workspace: Any) -> None:
    e = running(workspace)
    kept = services.experiment_assign(experiment=e, unit_id=1)
    services.experiment_stop(experiment=e)

    assert services.experiment_assign(experiment=e, unit_id=1) == kept
    with pytest.raises(Conflict):
        services.experiment_assign(experiment=e, unit_id=2)


class _Stub:
    def __init__(self, pk: int, weights: list[int]) -> None:
        self.pk = pk
        self.variants = [{"key": f"V{i}", "weight": w} for i, w in enumerate(weights)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    experiment_id=st.integers(min_value=1, max_value=10**9),
    weights=st.lists(st.integers(min_value=1, max_value=100), min_size=2, max_size=5),
)
def test_hash_assignment_follows_the_weights(experiment_id: int, weights: list[int]) -> None:
    stub: Any = _Stub(experiment_id, weights)
    n = 4000
    counts = dict.fromkeys((v["key"] for v in stub.variants), 0)
    for unit in range(n):
        counts[services.variant_by_hash(stub, unit)] += 1
    total = sum(weights)
    for v in stub.variants:
        share = v["weight"] / total
        # Binomial sd at most sqrt(n p q) <= 32 units; 6 sd is a tolerant bound.
        assert abs(counts[v["key"]] - n * share) <= 6 * (n * share * (1 - share)) ** 0.5 + 1
    assert [services.variant_by_hash(stub, u) for u in range(50)] == [
        services.variant_by_hash(stub, u) for u in range(50)
    ]


@given(unit=st.integers(min_value=0, max_value=2**62))
def test_hash_assignment_is_deterministic(unit: int) -> None:
    a: Any = _Stub(7, [1, 1, 2])
    b: Any = _Stub(7, [1, 1, 2])
    assert services.variant_by_hash(a, unit) == services.variant_by_hash(b, unit)
    assert 0 <= services.bucket(7, unit) < 1


# --- the survey-delay lever, end to end -------------------------------------------------------


def _resolved(workspace: Any, inbox: Any) -> Any:
    customer = consenting_customer(workspace)
    conversation = inbox_services.message_receive(
        inbox=inbox, customer=customer, text="Where is my parcel?"
    ).conversation
    inbox_services.conversation_set_status(
        conversation=conversation, status="resolved", actor=SYSTEM
    )
    return conversation


def test_the_survey_delay_follows_the_variant_and_the_results_read_the_answers(
    workspace: Any,
) -> None:
    survey = make_survey(workspace, "csat", trigger="conversation_resolved", delay_minutes=60)
    e = running(
        workspace,
        lever="survey_delay",
        variants=[
            {"key": "A", "weight": 1, "payload": {}},
            {"key": "B", "weight": 1, "payload": {"delay_minutes": 5}},
        ],
    )
    inbox = InboxFactory(workspace=workspace, channel="email")
    conversations = [_resolved(workspace, inbox) for _ in range(16)]
    dispatch_pending()

    variant_of = dict(ExperimentAssignment.objects.values_list("unit_id", "variant"))
    assert set(variant_of) == {c.pk for c in conversations}
    assert set(variant_of.values()) == {"A", "B"}
    invitations = list(Invitation.objects.filter(survey=survey))
    assert len(invitations) == 16
    for inv in invitations:
        delay = (inv.send_after - inv.created_at).total_seconds() / 60
        expected = 60 if variant_of[inv.conversation_id] == "A" else 5
        assert delay == pytest.approx(expected, abs=0.1)

    # Every invitation goes out; the first two of A and the first three of B are answered.
    Invitation.objects.filter(survey=survey).update(status="sent", sent_at=timezone.now())
    answered = {"A": 0, "B": 0}
    for inv in sorted(invitations, key=lambda i: i.pk):
        v = variant_of[inv.conversation_id]
        if answered[v] < (2 if v == "A" else 3):
            answered[v] += 1
            inv.refresh_from_db()
            survey_services.response_record(invitation=inv, answers={"score": 5}, keys=["score"])
    dispatch_pending()

    result = results.experiment_results(e)
    by_key = {v.key: v for v in result.variants}
    n_a = sum(1 for v in variant_of.values() if v == "A")
    n_b = 16 - n_a
    assert (by_key["A"].n, by_key["B"].n) == (n_a, n_b)
    assert (by_key["A"].assigned, by_key["B"].assigned) == (n_a, n_b)
    assert by_key["A"].mean == pytest.approx(2 / n_a)
    assert by_key["B"].mean == pytest.approx(3 / n_b)
    comparison = by_key["B"].comparison
    assert comparison is not None
    assert comparison.difference == pytest.approx(3 / n_b - 2 / n_a)
    assert not result.ready  # 16 units are far from the planned sample
    assert by_key["B"].decision == "not_enough_data"


def test_without_a_running_experiment_the_survey_keeps_its_own_delay(workspace: Any) -> None:
    survey = make_survey(workspace, "csat", trigger="conversation_resolved", delay_minutes=60)
    make_experiment(workspace, lever="survey_delay")  # a draft changes nothing
    _resolved(workspace, InboxFactory(workspace=workspace, channel="email"))
    dispatch_pending()

    inv = Invitation.objects.get(survey=survey)
    assert (inv.send_after - inv.created_at).total_seconds() == pytest.approx(3600, abs=5)
    assert not ExperimentAssignment.objects.exists()


# --- results from stored data -----------------------------------------------------------------


def test_customer_conversion_counts_orders_after_assignment(workspace: Any) -> None:
    e = running(workspace, unit="customer", metric="converted", baseline=0.1, mde=0.05)
    customers = [CustomerFactory(workspace=workspace) for _ in range(12)]
    for c in customers:
        services.experiment_assign(experiment=e, unit_id=c.pk)
    later, earlier = timezone.now() + dt.timedelta(hours=1), timezone.now() - dt.timedelta(days=3)
    for i, c in enumerate(customers):
        if i % 2 == 0:
            OrderFactory(workspace=workspace, customer=c, placed_at=later)
        else:
            OrderFactory(workspace=workspace, customer=c, placed_at=earlier)  # before: no credit
    stranger = CustomerFactory(workspace=workspace)
    OrderFactory(workspace=workspace, customer=stranger, placed_at=later)  # never assigned

    result = results.experiment_results(e)
    variant_of = dict(ExperimentAssignment.objects.values_list("unit_id", "variant"))
    for v in result.variants:
        mine = [i for i, c in enumerate(customers) if variant_of[c.pk] == v.key]
        assert v.n == len(mine)
        if mine:
            assert v.mean == pytest.approx(sum(1 for i in mine if i % 2 == 0) / len(mine))


def test_first_response_time_means_per_variant_by_hand(workspace: Any) -> None:
    e = running(workspace, metric="first_response_seconds", baseline=60, mde=30)
    inbox = InboxFactory(workspace=workspace)
    start = timezone.now()
    expected: dict[str, list[float]] = {"A": [], "B": []}
    for minutes in [1, 2, 3, 4, 5, 6, 7, 8]:
        c = inbox_services.message_receive(
            inbox=inbox, customer=CustomerFactory(workspace=workspace), text="hi"
        ).conversation
        type(c).objects.filter(pk=c.pk).update(
            first_customer_message_at=start,
            first_response_at=start + dt.timedelta(minutes=minutes),
        )
        expected[services.experiment_assign(experiment=e, unit_id=c.pk)].append(minutes * 60.0)

    by_key = {v.key: v for v in results.experiment_results(e).variants}
    for key, values in expected.items():
        assert by_key[key].n == len(values)
        if values:
            assert by_key[key].mean == pytest.approx(sum(values) / len(values))


def test_results_with_an_empty_variant_say_not_enough_data(workspace: Any) -> None:
    e = running(workspace, design="sequential")
    result = results.experiment_results(e)
    assert [v.n for v in result.variants] == [0, 0]
    assert result.variants[1].decision == "not_enough_data"
    assert result.srm is None


def test_results_stay_inside_the_workspace(workspace: Any) -> None:
    other = WorkspaceFactory()
    e = running(workspace, metric="first_response_seconds", baseline=60, mde=30)
    foreign = inbox_services.message_receive(
        inbox=InboxFactory(workspace=other), customer=CustomerFactory(workspace=other), text="x"
    ).conversation
    type(foreign).objects.filter(pk=foreign.pk).update(
        first_customer_message_at=timezone.now(), first_response_at=timezone.now()
    )
    # Same id space: a unit id that is another workspace's conversation reads nothing.
    with transaction.atomic():
        services.experiment_assign(experiment=e, unit_id=foreign.pk)

    assert sum(v.n for v in results.experiment_results(e).variants) == 0


def test_a_customers_assistant_outcome_counts_when_it_ends_after_assignment(
    workspace: Any,
) -> None:
    from ascolto.assistant.models import BotSession

    e = running(workspace, unit="customer", metric="resolved_by_bot", baseline=0.3, mde=0.1)
    customer = CustomerFactory(workspace=workspace)
    conversation = inbox_services.message_receive(
        inbox=InboxFactory(workspace=workspace), customer=customer, text="hi"
    ).conversation
    session = BotSession.objects.create(workspace=workspace, conversation=conversation)
    variant = services.experiment_assign(experiment=e, unit_id=customer.pk)  # at its search
    session.state = BotSession.State.RESOLVED
    session.save()

    by_key = {v.key: v for v in results.experiment_results(e).variants}
    assert by_key[variant].n == 1
    assert by_key[variant].mean == 1.0
