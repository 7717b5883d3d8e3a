"""The job that sends a reply through Twilio's Messages API. Thin: read, one HTTP attempt
outside any transaction, record the outcome in one, schedule the next attempt when asked."""

from __future__ import annotations

from django.db import transaction
from huey.contrib.djhuey import db_task

from ascolto.connectors.twilio import outbound, selectors, services
from ascolto.core import links
from ascolto.core.errors import ValidationFailed


def _status_callback(account_id: int) -> str:
    if not links.reachable_from_outside():
        return ""  # status callbacks then come from the number's settings in Twilio's console
    return links.absolute_reverse("connectors_twilio:status", account_id)


@db_task()  # type: ignore[untyped-decorator]
def send_reply(message_id: int, attempt: int = 1) -> str:
    """Attempt `attempt` at sending reply `message_id`. Idempotent: a reply no longer queued is
    skipped (so a repeated job sends nothing). Returns the outcome."""
    message = selectors.reply_for_delivery(message_id=message_id)
    if message is None:
        return "skipped"
    account = message.inbox.twilio_account
    try:
        request = services.send_request(
            account=account, message=message, status_callback=_status_callback(account.pk)
        )
    except ValidationFailed as exc:
        result = outbound.HttpResult(ok=False, retryable=False, error=exc.message)
    else:
        result = outbound.post(
            url=request.url,
            body=request.body,
            headers=request.headers,
            describe_error=services.describe_error,
        )
    sid = result.data.get("sid")
    with transaction.atomic():
        outcome = outbound.attempt_record(
            message_id=message_id,
            result=result,
            provider_id=sid if isinstance(sid, str) and sid else None,
            attempt=attempt,
        )
    if outcome.retry_in is not None:
        send_reply.schedule(args=(message_id, attempt + 1), delay=outcome.retry_in)
    return outcome.state
