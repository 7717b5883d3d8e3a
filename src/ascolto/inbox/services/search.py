"""The conversations' search texts (inbox.models.ConversationSearchText), kept with each message.

Every service that creates a message calls `search_text_add` in its transaction, so a message
is searchable exactly when it is visible. Message texts are never edited afterwards.
"""

from __future__ import annotations

from django.db.models import F, Value
from django.db.models.functions import Concat, Length

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
