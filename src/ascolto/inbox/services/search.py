"""The conversations' search texts (inbox.models.ConversationSearchText), kept with each message.

Every service that creates a message calls `search_text_add` in its transaction, so a message
is searchable exactly when it is visible. Message texts are never edited afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Concat, Length

from ascolto.core.bulkinsert import insert_rows
from ascolto.inbox.models import SEARCH_TEXT_SEPARATOR, ConversationSearchText, Message

# A message's text joins the conversation's newest search row while that row stays under this
# many characters, else it starts a row of its own: the row a new message rewrites (and whose
# trigrams the index takes again) stays small however long the thread grows, and below
# PostgreSQL's TOAST threshold (about 2 kB) for short texts.
SEARCH_TEXT_CHUNK = 1000


def search_text_add(*, message: Message) -> None:
    """Add the message's text to its conversation's search text. Precondition: the caller holds
    the transaction that creates the message (the conversation row is usually locked by then,
    but two writers at once still lose nothing: each appends, or starts a row)."""
    text = message.text
    if not text:
        return
    rows = ConversationSearchText.objects.filter(conversation_id=message.conversation_id)
    newest = rows.order_by("-pk").annotate(size=Length("text")).values_list("pk", "size").first()
    if newest is not None and newest[1] + len(text) < SEARCH_TEXT_CHUNK:
        appended = rows.filter(pk=newest[0]).update(
            text=Concat(F("text"), Value(SEARCH_TEXT_SEPARATOR), Value(text))
        )
        if appended:
            return
    ConversationSearchText.objects.create(
        workspace_id=message.workspace_id, conversation_id=message.conversation_id, text=text
    )


def search_texts_add(*, messages: Sequence[Message]) -> None:
    """`search_text_add` for many new messages (the intake batch), in their order, with the same
    rows as a call per message would leave: the newest row of each conversation read in one
    query, the appends in one statement, the new rows in one insert (PostgreSQL; elsewhere a
    call per message)."""
    if connection.vendor != "postgresql":
        for message in messages:
            search_text_add(message=message)
        return
    by_conversation: dict[int, list[Message]] = {}
    for message in messages:
        if message.text:
            by_conversation.setdefault(message.conversation_id, []).append(message)
    if not by_conversation:
        return
    table = ConversationSearchText._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT ON (conversation_id) conversation_id, id, length(text) "  # noqa: S608
            f"FROM {table} WHERE conversation_id = ANY(%s) ORDER BY conversation_id, id DESC",
            [list(by_conversation)],
        )
        newest = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    appends: dict[int, str] = {}
    created: list[ConversationSearchText] = []
    for conversation_id, thread in by_conversation.items():
        row_id, size = newest.get(conversation_id, (None, 0))
        current: ConversationSearchText | None = None  # a row this batch starts
        for message in thread:
            text = message.text
            if current is None and row_id is not None and size + len(text) < SEARCH_TEXT_CHUNK:
                appends[row_id] = appends.get(row_id, "") + SEARCH_TEXT_SEPARATOR + text
                size += len(SEARCH_TEXT_SEPARATOR) + len(text)
            elif current is not None and len(current.text) + len(text) < SEARCH_TEXT_CHUNK:
                current.text += SEARCH_TEXT_SEPARATOR + text
            else:
                current = ConversationSearchText(
                    workspace_id=message.workspace_id, conversation_id=conversation_id, text=text
                )
                created.append(current)
    if appends:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS t SET text = t.text || v.suffix "  # noqa: S608
                "FROM json_to_recordset(%s::json) AS v(id bigint, suffix text) "
                "WHERE t.id = v.id RETURNING t.id",
                # One JSON document: psycopg quotes a text array's elements in Python.
                [json.dumps([{"id": k, "suffix": v} for k, v in appends.items()])],
            )
            gone = set(appends) - {row[0] for row in cursor.fetchall()}
        # A row deleted meanwhile (its conversation merged away): the texts start a row.
        owner = {row_id: cid for cid, (row_id, _) in newest.items()}
        workspace_of = {m.conversation_id: m.workspace_id for m in messages}
        created += [
            ConversationSearchText(
                workspace_id=workspace_of[owner[row_id]],
                conversation_id=owner[row_id],
                text=appends[row_id].removeprefix(SEARCH_TEXT_SEPARATOR),
            )
            for row_id in gone
        ]
    insert_rows(ConversationSearchText, created)
