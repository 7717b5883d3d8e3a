"""Jobs of the email channel. Thin: they take ids, call `imap` or `services`, and schedule.

- poll_mailboxes (every minute): fetch new IMAP mail of every mailbox that has it on. Held by
  the `single_instance` lock, and each mailbox by a lock of its own, so several workers never
  fetch the same mailbox at once.
- send_reply: one SMTP attempt per run, outside any transaction; the outcome is recorded in
  one, and the next attempt scheduled when it says so.
"""

from __future__ import annotations

import logging

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from ascolto.connectors.email import imap, services
from ascolto.connectors.email.models import Mailbox
from ascolto.connectors.email.smtp import outbound
from ascolto.core.tasks import exclusive, single_instance

logger = logging.getLogger(__name__)

POLL_LOCK = "email-poll"


def mailbox_lock(mailbox_id: int) -> str:
    return f"email-poll-mailbox-{mailbox_id}"


def poll_mailbox(mailbox_id: int) -> imap.PollResult | None:
    """Fetch one mailbox; None when another worker is fetching it or it is off. A server
    error is recorded on the mailbox (its admins see it) and re-raised."""
    with exclusive(mailbox_lock(mailbox_id)) as acquired:
        if not acquired:
            return None
        mailbox = (
            Mailbox.objects.select_related("inbox", "workspace")
            .filter(pk=mailbox_id, imap_enabled=True, inbox__is_active=True)
            .first()
        )
        if mailbox is None:
            return None
        try:
            return imap.poll(mailbox)
        except imap.ImapError as exc:
            services.mailbox_record_error(mailbox_id=mailbox_id, error=str(exc))
            raise


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(POLL_LOCK)
def poll_mailboxes() -> int:
    """Returns how many messages were stored across mailboxes."""
    stored = 0
    ids = Mailbox.objects.filter(imap_enabled=True, inbox__is_active=True).values_list(
        "pk", flat=True
    )
    for mailbox_id in list(ids):
        try:
            result = poll_mailbox(mailbox_id)
        except imap.ImapError:
            logger.warning("IMAP poll of mailbox %s failed", mailbox_id, exc_info=True)
            continue
        stored += result.stored if result is not None else 0
    return stored


@db_task()  # type: ignore[untyped-decorator]
def send_reply(message_id: int, attempt: int = 1) -> str:
    """Attempt `attempt` at sending reply `message_id`. Idempotent: a reply no longer queued is
    skipped. Returns the outcome's state."""
    with transaction.atomic():
        prepared = services.reply_prepare(message_id=message_id)
    if prepared is None:
        return "skipped"
    mailbox = prepared.mailbox
    connection = outbound.connection_for(
        host=mailbox.smtp_host,
        port=mailbox.smtp_port,
        security=mailbox.smtp_security,
        user=mailbox.smtp_user,
        password=mailbox.smtp_password,
    )
    result = outbound.send(prepared.email, connection)
    with transaction.atomic():
        outcome = services.reply_attempt_record(
            message_id=message_id, result=result, attempt=attempt
        )
    if outcome.retry_in is not None:
        send_reply.schedule(args=(message_id, attempt + 1), delay=outcome.retry_in)
    return outcome.state
