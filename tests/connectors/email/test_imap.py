"""IMAP polling against a real Dovecot: nothing lost, nothing stored twice, one poller at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from ascolto.connectors.email import imap, services, tasks
from ascolto.connectors.email.models import EmailMessageRecord, Mailbox
from ascolto.core.tasks import exclusive
from ascolto.inbox.models import Conversation, Message
from tests.connectors.email.conftest import mail


def three_mails() -> list[bytes]:
    return [
        mail(message_id="<m1@customer.example>", subject="First"),
        mail(message_id="<m2@customer.example>", subject="Second", sender="bo@x.example"),
        mail(message_id="<m3@customer.example>", subject="Third", sender="cy@x.example"),
    ]


def test_a_poll_stores_new_mail_marks_it_seen_and_advances_the_mark(imap_mailbox, dovecot):
    dovecot.append(*three_mails())

    result = tasks.poll_mailbox(imap_mailbox.pk)

    assert result is not None
    assert (result.fetched, result.stored, result.duplicates) == (3, 3, 0)
    assert sorted(
        Message.objects.filter(inbox=imap_mailbox.inbox).values_list("provider_id", flat=True)
    ) == ["<m1@customer.example>", "<m2@customer.example>", "<m3@customer.example>"]
    imap_mailbox.refresh_from_db()
    assert imap_mailbox.last_uid == 3
    assert imap_mailbox.uid_validity is not None
    assert imap_mailbox.last_polled_at is not None
    assert dovecot.seen_uids() == {1, 2, 3}
    assert set(EmailMessageRecord.objects.values_list("imap_uid", flat=True)) == {1, 2, 3}


def test_a_second_poll_fetches_only_what_is_new(imap_mailbox, dovecot):
    first, second, third = three_mails()
    dovecot.append(first, second)
    tasks.poll_mailbox(imap_mailbox.pk)
    dovecot.append(third)

    result = tasks.poll_mailbox(imap_mailbox.pk)
    empty = tasks.poll_mailbox(imap_mailbox.pk)

    assert result is not None
    assert result.uids == [3]
    assert empty is not None
    assert empty.fetched == 0
    assert Message.objects.filter(inbox=imap_mailbox.inbox).count() == 3


def test_fetching_everything_again_duplicates_nothing(imap_mailbox, dovecot):
    dovecot.append(*three_mails())
    tasks.poll_mailbox(imap_mailbox.pk)
    Mailbox.objects.filter(pk=imap_mailbox.pk).update(last_uid=0)  # as after a lost mark

    again = tasks.poll_mailbox(imap_mailbox.pk)

    assert again is not None
    assert (again.fetched, again.stored, again.duplicates) == (3, 0, 3)
    assert Message.objects.filter(inbox=imap_mailbox.inbox).count() == 3
    assert Conversation.objects.filter(inbox=imap_mailbox.inbox).count() == 3


def test_a_crash_between_fetch_and_store_loses_and_duplicates_nothing(
    imap_mailbox, dovecot, monkeypatch
):
    dovecot.append(*three_mails())
    real_ingest = services.email_ingest

    def crash_on_second(**kwargs: Any) -> Any:
        if kwargs["imap_uid"] == 2:
            raise RuntimeError("worker killed")
        return real_ingest(**kwargs)

    monkeypatch.setattr(services, "email_ingest", crash_on_second)
    with pytest.raises(RuntimeError, match="worker killed"):
        tasks.poll_mailbox(imap_mailbox.pk)

    imap_mailbox.refresh_from_db()
    assert imap_mailbox.last_uid == 1  # the mark never passes a message that was not stored
    assert dovecot.seen_uids() == {1}  # only stored mail is flagged read
    assert Message.objects.filter(inbox=imap_mailbox.inbox).count() == 1

    monkeypatch.setattr(services, "email_ingest", real_ingest)
    result = tasks.poll_mailbox(imap_mailbox.pk)

    assert result is not None
    assert result.uids == [2, 3]
    assert sorted(
        Message.objects.filter(inbox=imap_mailbox.inbox).values_list("provider_id", flat=True)
    ) == ["<m1@customer.example>", "<m2@customer.example>", "<m3@customer.example>"]
    assert dovecot.seen_uids() == {1, 2, 3}


def test_a_crash_after_the_store_but_before_seen_stores_nothing_twice(
    imap_mailbox, dovecot, monkeypatch
):
    dovecot.append(*three_mails())

    def lost_connection(client: Any, uid: int) -> None:
        raise OSError("connection reset")

    monkeypatch.setattr(imap, "mark_seen", lost_connection)
    with pytest.raises(imap.ImapError, match="connection reset"):
        tasks.poll_mailbox(imap_mailbox.pk)
    monkeypatch.undo()
    Mailbox.objects.filter(pk=imap_mailbox.pk).update(last_uid=0)

    tasks.poll_mailbox(imap_mailbox.pk)

    assert Message.objects.filter(inbox=imap_mailbox.inbox).count() == 3
    imap_mailbox.refresh_from_db()
    assert "connection reset" not in imap_mailbox.last_error  # cleared by the good poll


def test_a_message_that_is_not_mail_is_kept_as_rejected_and_does_not_block(imap_mailbox, dovecot):
    dovecot.append(b"garbage without any header\r\n", mail(message_id="<ok@customer.example>"))

    result = tasks.poll_mailbox(imap_mailbox.pk)

    assert result is not None
    assert (result.rejected, result.stored) == (1, 1)
    rejected = EmailMessageRecord.objects.get(kind="rejected")
    assert "not an email" in rejected.note
    imap_mailbox.refresh_from_db()
    assert imap_mailbox.last_uid == 2


@contextmanager
def held_by_another_worker(name: str) -> Iterator[None]:
    """Hold lock `name` from another thread (its own database connection, as another worker
    would: PostgreSQL advisory locks are re-entrant within one session)."""
    acquired, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with exclusive(name) as held:
                assert held
                acquired.set()
                release.wait(30)
        finally:
            connection.close()
            done.set()

    worker = threading.Thread(target=hold)
    worker.start()
    assert acquired.wait(10)
    try:
        yield
    finally:
        release.set()
        worker.join(10)


def test_only_one_worker_polls_a_mailbox_at_once(imap_mailbox, dovecot):
    dovecot.append(*three_mails())

    with held_by_another_worker(tasks.mailbox_lock(imap_mailbox.pk)):
        assert tasks.poll_mailbox(imap_mailbox.pk) is None
    assert not Message.objects.filter(inbox=imap_mailbox.inbox).exists()

    with held_by_another_worker(tasks.POLL_LOCK):
        assert tasks.poll_mailboxes.call_local() is None
    assert not Message.objects.filter(inbox=imap_mailbox.inbox).exists()

    assert tasks.poll_mailboxes.call_local() == 3


def test_a_wrong_password_is_recorded_on_the_mailbox(imap_mailbox, dovecot):
    imap_mailbox.imap_password = "wrong"
    imap_mailbox.save()

    with pytest.raises(imap.ImapError, match="Cannot sign in"):
        tasks.poll_mailbox(imap_mailbox.pk)

    imap_mailbox.refresh_from_db()
    assert "Cannot sign in" in imap_mailbox.last_error
    assert imap_mailbox.last_error_at is not None
    # The periodic job carries on with other mailboxes instead of failing.
    assert tasks.poll_mailboxes.call_local() == 0


def test_a_disabled_mailbox_is_not_polled(imap_mailbox, dovecot):
    dovecot.append(*three_mails())
    Mailbox.objects.filter(pk=imap_mailbox.pk).update(imap_enabled=False)

    assert tasks.poll_mailbox(imap_mailbox.pk) is None
    assert not Message.objects.exists()


def test_the_imap_password_is_stored_encrypted(imap_mailbox, dovecot):
    stored = Mailbox.objects.filter(pk=imap_mailbox.pk).values_list(
        "imap_password_encrypted", flat=True
    )[0]

    assert stored
    assert dovecot.password not in stored
    assert Mailbox.objects.get(pk=imap_mailbox.pk).imap_password == dovecot.password
