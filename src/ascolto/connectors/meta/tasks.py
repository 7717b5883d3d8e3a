"""The job that sends a reply through the Graph API. Thin: read, one HTTP attempt outside any
transaction, record the outcome in one, schedule the next attempt when asked."""

from __future__ import annotations

from django.db import transaction
from huey.contrib.djhuey import db_task

from ascolto.connectors.meta import selectors, services
from ascolto.connectors.twilio import outbound
from ascolto.core.errors import ValidationFailed


@db_task()  # type: ignore[untyped-decorator]
def send_reply(message_id: int, attempt: int = 1) -> str:
    """Attempt `attempt` at sending reply `message_id`; a reply no longer queued is skipped.
    A reply that may not be sent (WhatsApp's window closed) fails at once with the reason."""
    message = selectors.reply_for_delivery(message_id=message_id)
    if message is None:
        return "skipped"
    try:
        request = services.send_request(account=message.inbox.meta_account, message=message)
    except ValidationFailed as exc:
        result = outbound.HttpResult(ok=False, retryable=False, error=exc.message)
    else:
        result = outbound.post(
            url=request.url,
            body=request.body,
            headers=request.headers,
            describe_error=services.describe_error,
        )
    with transaction.atomic():
        outcome = outbound.attempt_record(
            message_id=message_id,
            result=result,
            provider_id=services.provider_id_of(result.data),
            attempt=attempt,
        )
    if outcome.retry_in is not None:
        send_reply.schedule(args=(message_id, attempt + 1), delay=outcome.retry_in)
    return outcome.state
