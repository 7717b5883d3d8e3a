"""Who is looking at a conversation, and who is typing in it (collision detection).

State lives in the Django cache (Redis at scale, so every web process sees it), with short
lifetimes: an entry per open console tab (`connection`) viewing a conversation, refreshed by the
tab's heartbeat, and a roster per conversation listing those tabs. A tab that vanishes without
saying goodbye (a crash, a lost network) drops out when its entry expires.

The roster is read-modify-written without a lock: two tabs joining the same conversation at the
same instant may lose one entry from the roster, which the losing tab's next heartbeat
(HEARTBEAT_SECONDS) puts back. Presence is advisory, so that window is acceptable.

Changes are announced to the workspace's presence group (`presence_group`) as
`{"type": "presence.update", "conversation_id": id, "agents": [...]}`; each consumer forwards
them to its browser without the viewer's own entries.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from django.core.cache import cache

HEARTBEAT_SECONDS = 10
VIEWING_TTL = 3 * HEARTBEAT_SECONDS
TYPING_TTL = 6
ROSTER_TTL = 10 * 60
VIEWING, TYPING = "viewing", "typing"


@dataclass(frozen=True)
class AgentPresence:
    user_id: int
    name: str
    state: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def presence_group(workspace_id: int) -> str:
    return f"inbox.presence.{workspace_id}"


def _roster_key(workspace_id: int, conversation_id: int) -> str:
    return f"ascolto:presence:{workspace_id}:{conversation_id}"


def _entry_key(workspace_id: int, conversation_id: int, connection: str) -> str:
    return f"ascolto:presence:{workspace_id}:{conversation_id}:{connection}"


def _summarise(entries: list[dict[str, Any]], now: float) -> list[AgentPresence]:
    """One line per agent (several tabs of one agent count once; typing in any wins)."""
    by_user: dict[int, AgentPresence] = {}
    for entry in entries:
        typing = float(entry.get("typing_until", 0)) > now
        user_id = int(entry["user_id"])
        known = by_user.get(user_id)
        if known is None or (typing and known.state != TYPING):
            by_user[user_id] = AgentPresence(
                user_id=user_id,
                name=str(entry.get("name", "")),
                state=TYPING if typing else VIEWING,
            )
    return sorted(by_user.values(), key=lambda p: (p.name.lower(), p.user_id))


async def _entries(
    workspace_id: int, conversation_id: int
) -> tuple[list[str], list[dict[str, Any]]]:
    roster: list[str] = await cache.aget(_roster_key(workspace_id, conversation_id)) or []
    if not roster:
        return [], []
    keys = {_entry_key(workspace_id, conversation_id, c): c for c in roster}
    found = await cache.aget_many(list(keys))
    alive = [keys[key] for key in keys if key in found]
    return alive, [found[_entry_key(workspace_id, conversation_id, c)] for c in alive]


async def presence_of(*, workspace_id: int, conversation_id: int) -> list[AgentPresence]:
    """Everyone viewing or typing in the conversation now."""
    _alive, entries = await _entries(workspace_id, conversation_id)
    return _summarise(entries, time.time())


async def presence_touch(
    *,
    workspace_id: int,
    conversation_id: int,
    connection: str,
    user_id: int,
    name: str,
    typing: bool = False,
) -> tuple[bool, list[AgentPresence]]:
    """Record that a tab views (or types in) the conversation. Returns whether what others see
    changed (a new viewer, or a viewer who started typing) and the conversation's presence."""
    now = time.time()
    key = _entry_key(workspace_id, conversation_id, connection)
    previous: dict[str, Any] | None = await cache.aget(key)
    was_typing = previous is not None and float(previous.get("typing_until", 0)) > now
    typing_until = now + TYPING_TTL if typing else float((previous or {}).get("typing_until", 0))
    entry = {"user_id": user_id, "name": name, "typing_until": typing_until}
    await cache.aset(key, entry, VIEWING_TTL)
    alive, entries = await _entries(workspace_id, conversation_id)
    roster_changed = connection not in alive
    if roster_changed:
        alive.append(connection)
        entries.append(entry)
    # Written on every heartbeat so that a long-viewed conversation's roster never expires.
    await cache.aset(_roster_key(workspace_id, conversation_id), alive, ROSTER_TTL)
    changed = previous is None or roster_changed or (typing and not was_typing)
    return changed, _summarise(entries, now)


async def presence_leave(
    *, workspace_id: int, conversation_id: int, connection: str
) -> list[AgentPresence]:
    """The tab no longer views the conversation. Returns who still does."""
    await cache.adelete(_entry_key(workspace_id, conversation_id, connection))
    alive, entries = await _entries(workspace_id, conversation_id)
    roster_key = _roster_key(workspace_id, conversation_id)
    if alive:
        await cache.aset(roster_key, alive, ROSTER_TTL)
    else:
        await cache.adelete(roster_key)
    return _summarise(entries, time.time())


def update_message(conversation_id: int, agents: list[AgentPresence]) -> dict[str, Any]:
    """The channel-layer message announcing a conversation's presence to the workspace."""
    return {
        "type": "presence.update",
        "conversation_id": conversation_id,
        "agents": [agent.as_json() for agent in agents],
    }
