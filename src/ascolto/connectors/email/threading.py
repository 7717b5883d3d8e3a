"""Which conversation an inbound email continues (reads only).

In order: the Message-IDs it answers (In-Reply-To, then References, newest first) among the
mail this workspace's mailbox received or sent; then a conversation token in a recipient
address (`support+TOKEN@example.com`) or in the subject (`[#TOKEN]`); then, for clients that
drop every header, an active conversation of the same customer with the same subject once
"Re:"/"Fwd:" prefixes are removed. None means a new conversation: a new subject from the same
person is a new conversation.
"""

from __future__ import annotations

import re
import secrets

from ascolto.connectors.email.models import EmailMessageRecord, Mailbox, ThreadToken
from ascolto.connectors.email.parsing import ParsedEmail
from ascolto.customers.models import Customer
from ascolto.inbox.models import Conversation

TOKEN_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # noqa: S105 - no 0/o, 1/l: retyped
TOKEN_LENGTH = 10
SUBJECT_TOKEN_RE = re.compile(r"\[#([a-z2-9]{10})\]", re.IGNORECASE)
REPLY_PREFIX_RE = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|r|i|sv|vs|antw|tr|rif|enc|השב|הועבר)\s*(?:\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def reply_address(mailbox: Mailbox, token: str) -> str:
    local, _, domain = mailbox.address.partition("@")
    return f"{local}+{token}@{domain}"


def base_subject(subject: str) -> str:
    return REPLY_PREFIX_RE.sub("", SUBJECT_TOKEN_RE.sub("", subject)).strip().lower()


def _tokens_in_addresses(mailbox: Mailbox, addresses: list[str]) -> list[str]:
    tokens = []
    for own in mailbox.own_addresses():
        local, _, domain = own.partition("@")
        pattern = re.compile(
            rf"^{re.escape(local)}\+([a-z2-9]{{{TOKEN_LENGTH}}})@{re.escape(domain)}$"
        )
        for address in addresses:
            found = pattern.match(address.lower())
            if found:
                tokens.append(found.group(1))
    return tokens


def conversation_for_reply(
    *, mailbox: Mailbox, parsed: ParsedEmail, customer: Customer | None
) -> Conversation | None:
    """The conversation `parsed` continues in this mailbox's inbox, or None for a new one."""
    ids = [*reversed(parsed.in_reply_to), *reversed(parsed.references)]
    if ids:
        record = (
            EmailMessageRecord.objects.filter(
                workspace_id=mailbox.workspace_id,
                mailbox=mailbox,
                message_id__in=ids,
                conversation__isnull=False,
            )
            .select_related("conversation")
            .order_by("-created_at", "-id")
            .first()
        )
        if record is not None and record.conversation is not None:
            return _live(record.conversation)
    tokens = _tokens_in_addresses(mailbox, [*parsed.to, *parsed.cc, *parsed.delivered_to])
    tokens += [t.lower() for t in SUBJECT_TOKEN_RE.findall(parsed.subject)]
    if tokens:
        thread = (
            ThreadToken.objects.filter(
                workspace_id=mailbox.workspace_id, mailbox=mailbox, token__in=tokens
            )
            .select_related("conversation")
            .first()
        )
        if thread is not None:
            return _live(thread.conversation)
    subject = base_subject(parsed.subject)
    if customer is not None and subject and REPLY_PREFIX_RE.match(parsed.subject):
        for conversation in Conversation.objects.filter(
            workspace_id=mailbox.workspace_id,
            inbox_id=mailbox.inbox_id,
            customer=customer,
            merged_into__isnull=True,
            status__in=[
                Conversation.Status.OPEN,
                Conversation.Status.PENDING,
                Conversation.Status.SNOOZED,
            ],
        ).order_by("-last_message_at")[:20]:
            if base_subject(conversation.subject) == subject:
                return conversation
    return None


def _live(conversation: Conversation) -> Conversation:
    """A conversation merged into another continues there."""
    seen = {conversation.pk}
    while conversation.merged_into_id is not None and conversation.merged_into_id not in seen:
        merged = conversation.merged_into
        assert merged is not None
        seen.add(merged.pk)
        conversation = merged
    return conversation


def thread_token(*, mailbox: Mailbox, conversation: Conversation) -> str:
    """The conversation's token, created on first use (a write: callers hold a transaction)."""
    existing = ThreadToken.objects.filter(conversation=conversation).first()
    if existing is not None:
        return existing.token
    token = ThreadToken.objects.create(
        workspace_id=mailbox.workspace_id,
        mailbox=mailbox,
        conversation=conversation,
        token=new_token(),
    )
    return token.token
