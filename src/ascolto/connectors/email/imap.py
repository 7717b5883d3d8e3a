"""Fetching a mailbox's new mail over IMAP without losing or repeating any.

Contract: UIDs above the mailbox's `last_uid` are fetched with BODY.PEEK (nothing is marked
read by fetching); each message is stored, and `last_uid` advanced, in one transaction of its
own; only after that commits is it flagged \\Seen on the server. A crash before the commit
leaves `last_uid` where it was, so the next poll fetches the message again; a message stored
twice (a crash after the commit, a UIDVALIDITY reset, the same mail also pushed over HTTP) is
a no-op by its Message-ID. Callers hold the mailbox's poll lock (see tasks.py).
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from ascolto.connectors.email import services
from ascolto.connectors.email.models import Mailbox
from ascolto.core.errors import DomainError

logger = logging.getLogger(__name__)

BATCH = 200
TIMEOUT = 30


class ImapError(Exception):
    """The server could not be reached or refused us; the text says what to fix."""


@dataclass
class PollResult:
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    uids: list[int] = field(default_factory=list)


def connect(mailbox: Mailbox) -> imaplib.IMAP4:
    try:
        client: imaplib.IMAP4
        if mailbox.imap_security == Mailbox.Security.SSL:
            client = imaplib.IMAP4_SSL(
                mailbox.imap_host,
                mailbox.imap_port,
                ssl_context=ssl.create_default_context(),
                timeout=TIMEOUT,
            )
        else:
            client = imaplib.IMAP4(mailbox.imap_host, mailbox.imap_port, timeout=TIMEOUT)
            if mailbox.imap_security == Mailbox.Security.STARTTLS:
                client.starttls(ssl_context=ssl.create_default_context())
        client.login(mailbox.imap_user, mailbox.imap_password)
    except (TimeoutError, OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise ImapError(
            f"Cannot sign in to {mailbox.imap_host}:{mailbox.imap_port} as "
            f"{mailbox.imap_user!r}: {exc}"
        ) from exc
    return client


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fetched_bytes(data: list[object]) -> bytes | None:
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def poll(mailbox: Mailbox, *, limit: int = BATCH) -> PollResult:
    """Fetch and store the mailbox's new mail (see the module's contract). Raises ImapError
    when the server cannot be used; messages stored before the error stay stored."""
    result = PollResult()
    client = connect(mailbox)
    try:
        status, _data = client.select(_quote(mailbox.imap_folder))
        if status != "OK":
            raise ImapError(f"The folder {mailbox.imap_folder!r} cannot be opened.")
        validity_data = client.response("UIDVALIDITY")[1]
        validity = int(validity_data[0]) if validity_data and validity_data[0] else None
        if validity is not None and mailbox.uid_validity != validity:
            # The server renumbered the folder: start over; Message-IDs keep this exactly-once.
            Mailbox.objects.filter(pk=mailbox.pk).update(uid_validity=validity, last_uid=0)
            mailbox.uid_validity, mailbox.last_uid = validity, 0
        status, data = client.uid("SEARCH", f"UID {mailbox.last_uid + 1}:*")
        if status != "OK":
            raise ImapError("The server refused to list new messages.")
        raw_uids = data[0].split() if data and isinstance(data[0], bytes) else []
        # "n:*" always matches the highest UID, even when it is below n.
        uids = sorted(u for u in (int(x) for x in raw_uids) if u > mailbox.last_uid)[:limit]
        for uid in uids:
            status, fetched = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = _fetched_bytes(fetched) if status == "OK" else None
            if raw is None:
                continue  # expunged meanwhile
            result.fetched += 1
            store_one(mailbox=mailbox, raw=raw, uid=uid, result=result)
            mark_seen(client, uid)
            result.uids.append(uid)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(f"The IMAP connection failed: {exc}") from exc
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_polled_at=timezone.now(), last_error="", last_error_at=None
    )
    return result


def store_one(*, mailbox: Mailbox, raw: bytes, uid: int, result: PollResult) -> None:
    """Store message `uid` and advance the mark in one transaction. Mail that is not an email
    or is too large is kept as a rejected record, so one bad message never blocks the rest."""
    with transaction.atomic():
        try:
            outcome = services.email_ingest(mailbox=mailbox, raw=raw, source="imap", imap_uid=uid)
        except DomainError as exc:
            services.ingest_rejected(
                mailbox=mailbox, raw=raw, source="imap", uid=uid, error=exc.message
            )
            result.rejected += 1
        else:
            if outcome.created:
                result.stored += 1
            else:
                result.duplicates += 1
        services.mailbox_advance(mailbox=mailbox, uid=uid)


def mark_seen(client: imaplib.IMAP4, uid: int) -> None:
    """Flag a stored message read, so people reading the mailbox see it was taken in."""
    client.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
