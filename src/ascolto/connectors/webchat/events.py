"""Realtime events the widget publishes to the agents of a workspace (core/realtime.py).

- webchat.visitor.typing: {conversation_id, typing} — the visitor is (or stopped) typing.
"""

from __future__ import annotations

from ascolto.core.realtime import define_event

VISITOR_TYPING = define_event("webchat.visitor.typing", conversation_id=int, typing=bool)
