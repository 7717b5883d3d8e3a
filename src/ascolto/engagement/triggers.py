"""Triggers Ascolto fires itself: schedules, date attributes, conversations and surveys.

Each firing is recorded as an internal Event (source "internal") with a deterministic external
id, so Send's (rule, event) constraint keeps every rule to once per firing however often the
periodic job or an outbox handler runs:

    schedule:<rule>:<customer>:<period>             period: 2026-03-09, or 2026-W11 weekly
    date:<attribute>:<rule>:<customer>:<yyyy-mm-dd> the customer's local day it fired on
    conversation.created:<conversation>
    conversation.resolved:<conversation>:<outbox event>  (each resolution once)
    survey.answered:<response>

Internal events are not put on the customer's timeline: what they are about (the conversation,
the survey answer) is there already, and so is what the rule did (the message, the
conversation it opened). They are listed with the customer's events and the rule's sends.

A schedule period is a TriggerRun: created when its time has come, finished when every
customer was considered. A worker restarted mid-run resumes the unfinished run; a missed period
is caught up once, by the first run after it, and only the latest missed period is.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ascolto.core.actors import Actor
from ascolto.customers.models import Consent, Customer
from ascolto.engagement import services, templates_render, trigger_config
from ascolto.engagement.models import Event, EventType, Rule, Send, TriggerRun

logger = logging.getLogger(__name__)

BATCH = 500


def internal_event(
    *,
    customer: Customer,
    type: str,
    external_id: str,
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
    name: str = "",
) -> Event:
    """The internal event with this external id, recorded the first time."""
    existing = Event.objects.filter(
        workspace_id=customer.workspace_id, external_id=external_id
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Event.objects.create(
                workspace_id=customer.workspace_id,
                external_id=external_id,
                type=type,
                name=name[:100],
                customer=customer,
                payload=payload or {},
                occurred_at=occurred_at or timezone.now(),
                source="internal",
            )
    except IntegrityError:
        return Event.objects.get(workspace_id=customer.workspace_id, external_id=external_id)


def fire(
    *,
    rule: Rule,
    customer: Customer,
    external_id: str,
    actor: Actor,
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> Send | None:
    """Run one schedule or date rule for one customer, once per external id."""
    event = internal_event(
        customer=customer,
        type=rule.trigger,
        external_id=external_id,
        payload=payload,
        occurred_at=occurred_at,
        name=rule.name,
    )
    if Send.objects.filter(rule=rule, event=event).exists():
        return None
    return services.rule_run(
        rule=rule,
        event=Event.objects.select_related("customer", "customer__workspace", "order").get(
            pk=event.pk
        ),
        actor=actor,
    )


def _consents(customers: list[Customer]) -> dict[int, list[tuple[str, bool]]]:
    """The consents of a batch of customers in one query, for evaluation_context."""
    rows: dict[int, list[tuple[str, bool]]] = {c.pk: [] for c in customers}
    for customer_id, purpose, granted in Consent.objects.filter(
        customer_id__in=list(rows)
    ).values_list("customer_id", "purpose", "granted"):
        rows[customer_id].append((purpose, granted))
    return rows


def _sample_event(rule: Rule, customer: Customer, payload: dict[str, Any]) -> Event:
    return Event(
        workspace_id=rule.workspace_id,
        type=rule.trigger,
        customer=customer,
        payload=payload,
        external_id="",
    )


def _customers(rule: Rule, extra: Q | None = None) -> Iterator[list[Customer]]:
    """The workspace's (unmerged) customers in batches by id, so a long run holds no lock."""
    last = 0
    query = Customer.objects.filter(workspace_id=rule.workspace_id, merged_into__isnull=True)
    if extra is not None:
        query = query.filter(extra)
    while True:
        batch = list(query.filter(pk__gt=last).select_related("workspace").order_by("pk")[:BATCH])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


# --- Schedules ------------------------------------------------------------------------------


def schedule_run(*, rule: Rule, actor: Actor, now: dt.datetime | None = None) -> int:
    """Fire a schedule rule for every matching customer in the latest period that has come,
    unless that period's run finished already. Returns how many customers it fired for."""
    now = now or timezone.now()
    config = rule.trigger_config or {}
    zone = trigger_config.workspace_zone(rule.workspace.timezone)
    period, due_at = trigger_config.latest_period(config, zone, now)
    if due_at < rule.created_at:
        return 0  # the rule did not exist yet: nothing to catch up
    with transaction.atomic():
        run, _ = TriggerRun.objects.get_or_create(
            workspace_id=rule.workspace_id, rule=rule, period=period, defaults={"due_at": due_at}
        )
    if run.finished_at is not None:
        return 0
    predicate = services.predicate_of(rule)
    fired = 0
    for batch in _customers(rule):
        consents = _consents(batch)
        for customer in batch:
            sample = _sample_event(rule, customer, {})
            if not predicate(services.evaluation_context(sample, consents[customer.pk])):
                continue
            with transaction.atomic():
                send = fire(
                    rule=rule,
                    customer=customer,
                    external_id=f"schedule:{rule.pk}:{customer.pk}:{period}",
                    payload={"period": period},
                    occurred_at=due_at,
                    actor=actor,
                )
            fired += send is not None
    TriggerRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), fired=run.fired + fired)
    return fired


# --- Date attributes ------------------------------------------------------------------------


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _date_filter(config: dict[str, Any], days: list[dt.date]) -> Q:
    """Customers whose date may fall due on one of `days` (the dates somewhere on Earth now)."""
    attribute, offset, yearly = config["attribute"], config["offset_days"], config["yearly"]
    targets = [day - dt.timedelta(days=offset) for day in days]
    query = Q()
    for target in targets:
        if attribute == "birthday":
            query |= Q(birthday__month=target.month, birthday__day=target.day)
            if (target.month, target.day) == (2, 28):
                query |= Q(birthday__month=2, birthday__day=29)
        elif yearly:
            query |= Q(**{f"attributes__{attribute}__icontains": f"-{target:%m-%d}"})
            if (target.month, target.day) == (2, 28):
                query |= Q(**{f"attributes__{attribute}__icontains": "-02-29"})
        else:
            query |= Q(**{f"attributes__{attribute}__startswith": target.isoformat()})
    return query


def date_due_on(config: dict[str, Any], customer: Customer, local_day: dt.date) -> bool:
    """Whether the customer's date falls due on their local day."""
    attribute = config["attribute"]
    raw = (
        customer.birthday if attribute == "birthday" else (customer.attributes or {}).get(attribute)
    )
    date = _parse_date(raw)
    if date is None:
        return False
    target = local_day - dt.timedelta(days=config["offset_days"])
    if config["yearly"]:
        return trigger_config.anniversary_in(target.year, date) == target and date < target
    return date == target


def date_run(*, rule: Rule, actor: Actor, now: dt.datetime | None = None) -> int:
    """Fire a date rule for the customers whose date falls due today in their own time zone,
    from the rule's time of day on. Returns how many customers it fired for."""
    now = now or timezone.now()
    config = rule.trigger_config or {}
    at = trigger_config.at_time(config)
    utc_day = now.astimezone(dt.UTC).date()
    days = [utc_day + dt.timedelta(days=d) for d in (-1, 0, 1)]
    predicate = services.predicate_of(rule)
    fired = 0
    for batch in _customers(rule, _date_filter(config, days)):
        due: dict[str, tuple[Customer, dt.date]] = {}
        for customer in batch:
            local = now.astimezone(templates_render.customer_zone(customer))
            if local.time() >= at and date_due_on(config, customer, local.date()):
                key = f"date:{config['attribute']}:{rule.pk}:{customer.pk}:{local.date()}"
                due[key] = (customer, local.date())
        # Fired already today (event and send are written together): skip without a query each.
        done = set(
            Event.objects.filter(
                workspace_id=rule.workspace_id, external_id__in=list(due)
            ).values_list("external_id", flat=True)
        )
        consents = _consents([customer for customer, _ in due.values()])
        for key, (customer, day) in due.items():
            payload = {"date": day.isoformat(), "attribute": config["attribute"]}
            sample = _sample_event(rule, customer, payload)
            if key in done or not predicate(
                services.evaluation_context(sample, consents[customer.pk])
            ):
                continue
            with transaction.atomic():
                send = fire(
                    rule=rule,
                    customer=customer,
                    external_id=key,
                    payload=payload,
                    occurred_at=now,
                    actor=actor,
                )
            fired += send is not None
    return fired


def due_rules_run(*, actor: Actor, now: dt.datetime | None = None) -> int:
    """Run every active schedule and date rule (the periodic job). One failing rule does not
    stop the others; it is tried again on the next run."""
    fired = 0
    for rule in Rule.objects.filter(
        is_active=True, trigger__in=[EventType.SCHEDULE, EventType.DATE]
    ).select_related("workspace", "owner"):
        try:
            if rule.trigger == EventType.SCHEDULE:
                fired += schedule_run(rule=rule, actor=actor, now=now)
            else:
                fired += date_run(rule=rule, actor=actor, now=now)
        except Exception:  # one rule's failure must not starve the others
            logger.exception("Engagement rule %s failed to run", rule.pk)
    return fired


# --- Conversations and surveys --------------------------------------------------------------


def has_rules(workspace_id: int, trigger: str) -> bool:
    return Rule.objects.filter(workspace_id=workspace_id, trigger=trigger, is_active=True).exists()


def record_and_run(
    *,
    customer: Customer,
    type: str,
    external_id: str,
    payload: dict[str, Any],
    actor: Actor,
) -> list[Send]:
    """Record an internal event (once) and run the rules of its type on it."""
    event = internal_event(customer=customer, type=type, external_id=external_id, payload=payload)
    event = Event.objects.select_related("customer", "customer__workspace", "order").get(
        pk=event.pk
    )
    return services.event_process(event=event, actor=actor)
