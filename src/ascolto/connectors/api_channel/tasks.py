"""The API channel's jobs: storing the messages the fast path accepted (intake.py), and
delivering a reply to the system's webhook. Thin: read, one HTTP attempt outside
any transaction, record the outcome in one, and schedule the next attempt when it says so."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from ascolto.connectors.api_channel import intake, selectors, services, webhook
from ascolto.connectors.api_channel.config import request_timeout
from ascolto.core.tasks import single_instance

INTAKE_SWEEP_LOCK = "api-channel-intake-sweep"


@db_task()  # type: ignore[untyped-decorator]
def deliver_reply(message_id: int, attempt: int = 1) -> str:
    """Attempt `attempt` at delivering the reply `message_id`. Idempotent: a reply no longer
    queued (sent, failed) is skipped. Returns the outcome's state."""
    message = selectors.reply_for_delivery(message_id=message_id)
    if message is None:
        return "skipped"
    request = services.reply_request(message=message)
    result = (
        webhook.post(
            url=request.url,
            secret=request.secret,
            body=request.body,
            key=request.key,
            timeout=request_timeout(),
        )
        if request.url
        else services.no_webhook()
    )
    with transaction.atomic():
        outcome = services.reply_attempt_record(
            message_id=message_id, result=result, attempt=attempt
        )
    if outcome.retry_in is not None:
        deliver_reply.schedule(args=(message_id, attempt + 1), delay=outcome.retry_in)
    return outcome.state


# Batches a job stores before it queues itself again behind the jobs waiting meanwhile (the
# outbox dispatches that route and push what it stored): under a steady load a job that
# drained until nothing was pending would hold a worker thread for as long as the load lasts.
INTAKE_TURN = 5


@db_task()  # type: ignore[untyped-decorator]
def process_intake() -> int:
    """Store the messages the fast path accepted, a few batches at a time. Returns how many."""
    cache.delete(intake.KICK_KEY)  # what arrives from now on queues one more job
    return _turn()


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(INTAKE_SWEEP_LOCK)
def sweep_intake() -> int:
    """Store accepted messages a lost wake-up or a dead worker left pending: one turn, as the
    job does, and the job queued for the rest (draining it all here would hold this worker's
    thread, and the jobs queued behind it, for as long as a load lasts)."""
    return _turn()


def _turn() -> int:
    done = intake.intake_drain(batch=intake.BATCH, max_batches=INTAKE_TURN)
    if done >= INTAKE_TURN * intake.BATCH:
        intake.wake_worker()
    return done
