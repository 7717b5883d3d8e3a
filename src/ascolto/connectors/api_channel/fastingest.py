"""Inbound API-channel messages accepted outside Django's request cycle (decision 0012).

`POST /api/v1/channels/api/<inbox>/messages` is the request a busy system sends by the
thousand. This ASGI app sits in front of Django (config/asgi.py) and, on PostgreSQL, serves
it itself when the request is an ordinary one: a JSON body that validates as `IngestIn`
with text and no attachments or HTML, a token of a member who may write whose use was recorded
in the last minute, and an active API inbox of the token's workspace. It then inserts the
intake row (`InboundIntake`: the body, the message id reserved from the messages' sequence),
and answers 201 only after the row is committed; a provider id seen before is answered 200 with
the first acknowledgement's ids. The intake worker (intake.py) stores the message, threads and
routes it, and pushes it to the agents.

Everything else goes to the Django operation unchanged (body included), which answers it as
before: a bad or revoked token (401), a role that may not write (403), an unknown inbox (404),
a disabled inbox (409), a body that is not JSON (400/415) or does not validate (422), and every
message with attachments or HTML. Requests meet in two batchers per process: the reads (tokens,
inboxes and provider ids stored before the intake existed: three queries for all waiting
requests) and the inserts (group commit: one INSERT ... ON CONFLICT DO NOTHING and one commit
for everything waiting, then one query for the repeats' first answers).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from pydantic import ValidationError

from ascolto.accounts.models import ROLE_PERMISSIONS
from ascolto.accounts.services import TOKEN_PREFIX
from ascolto.connectors.api_channel import intake
from ascolto.connectors.api_channel.schemas import IngestIn
from ascolto.core.batching import Batcher
from ascolto.core.errors import ValidationFailed
from ascolto.core.fastpath import (
    ASGIApp,
    AsyncConnections,
    Receive,
    Scope,
    Send,
    read_body,
    replay,
    wake_on_kick,
)
from ascolto.customers.normalize import normalize_identity

logger = logging.getLogger(__name__)

INGEST_PATH = re.compile(r"/api/v1/channels/api/(?P<inbox>[0-9]{1,18})/messages")
MAX_BODY = 256 * 1024
# A token's use is recorded at most once a minute (as api_token_authenticate does): here by
# one conditional update when the recorded use is older than this, whichever request of the
# moment comes first. (Handing such requests to Django instead sent every request in flight
# there at once, each with a connection of its own, once a minute.)
LAST_USED_FRESH = dt.timedelta(seconds=50)
TOKENS_USED_SQL = """
UPDATE accounts_apitoken SET last_used_at = now()
WHERE id = ANY(%s) AND (last_used_at IS NULL OR last_used_at < now() - %s::interval)
RETURNING id
"""
TOKENS_SQL = """
SELECT t.digest, t.id, t.workspace_id, t.user_id, t.last_used_at, u.is_superuser, m.role
FROM accounts_apitoken t
JOIN accounts_user u ON u.id = t.user_id AND u.is_active
LEFT JOIN accounts_membership m ON m.user_id = t.user_id AND m.workspace_id = t.workspace_id
WHERE t.digest = ANY(%s) AND t.revoked_at IS NULL
"""
INBOXES_SQL = "SELECT id, workspace_id, channel, is_active FROM inbox_inbox WHERE id = ANY(%s)"
# Messages stored before the intake ledger existed have no row in it: Django answers those.
# Each id is two probes of unique indexes (subqueries run per id, never hashed: see
# intake.EXISTING_SQL).
STORED_SQL = """
SELECT r.inbox_id, r.provider_id
FROM json_to_recordset(%s::json) AS r(inbox_id bigint, provider_id text)
WHERE (
    SELECT true FROM inbox_message m
    WHERE m.inbox_id = r.inbox_id AND m.provider_id = r.provider_id LIMIT 1
) AND (
    SELECT true FROM api_channel_inboundintake i
    WHERE i.inbox_id = r.inbox_id AND i.provider_id = r.provider_id LIMIT 1
) IS NULL
"""
HEADERS = [
    (b"content-type", b"application/json"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class Handover(Exception):
    """The request is the Django operation's to answer."""


@dataclass(frozen=True)
class Lookup:
    digest: str
    inbox_id: int
    provider_id: str


@dataclass(frozen=True)
class Grant:
    """A request's token, inbox and provider id checked: what the insert needs."""

    workspace_id: int
    user_id: int
    token_id: int


@dataclass(frozen=True)
class Accepted:
    inbox_id: int
    provider_id: str
    workspace_id: int
    user_id: int
    token_id: int
    payload: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] | None  # None: hand the request to Django


class Store:
    """psycopg async connections of this loop (one for reads, one for writes; autocommit, so
    one INSERT statement is one commit)."""

    def __init__(self) -> None:
        self._connections = AsyncConnections("ascolto-api-ingest")

    async def run(self, name: str, sql: list[tuple[str, list[Any]]]) -> list[list[Any]]:
        async def work(conn: Any) -> list[list[Any]]:
            results = []
            async with conn.cursor() as cursor:
                for statement, params in sql:
                    await cursor.execute(statement, params)
                    results.append(await cursor.fetchall())
            return results

        return await self._connections.run(name, work)

    def close(self) -> None:
        self._connections.close()


class Runtime:
    """The batchers, connections and threads of one event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.store = Store()
        self.kicks = ThreadPoolExecutor(1, thread_name_prefix="api-intake-wake")
        self.reads: Batcher[Lookup, Grant | None] = Batcher(self._read)
        self.inserts: Batcher[Accepted, Answer] = Batcher(self._insert)
        self._kick = asyncio.Event()
        self._kicker = self.loop.create_task(self._wake_worker())

    def close(self) -> None:
        self._kicker.cancel()
        self.reads.cancel()
        self.inserts.cancel()
        self.store.close()
        # The wake-up thread's Django connection (the job runs there when Huey is immediate).
        self.kicks.submit(connections.close_all)
        self.kicks.shutdown(wait=False)

    async def _read(self, lookups: list[Lookup]) -> list[Grant | None]:
        tokens, inboxes, stored = await self.store.run(
            "read",
            [
                (TOKENS_SQL, [sorted({x.digest for x in lookups})]),
                (INBOXES_SQL, [sorted({x.inbox_id for x in lookups})]),
                (
                    STORED_SQL,
                    [intake.keys_document((x.inbox_id, x.provider_id) for x in lookups)],
                ),
            ],
        )
        by_digest = {row[0]: row for row in tokens}
        by_inbox = {row[0]: row for row in inboxes}
        known = {(row[0], row[1]) for row in stored}
        fresh_after = dt.datetime.now(dt.UTC) - LAST_USED_FRESH
        grants: list[Grant | None] = []
        for lookup in lookups:
            token = by_digest.get(lookup.digest)
            inbox = by_inbox.get(lookup.inbox_id)
            ok = (
                token is not None
                and inbox is not None
                and (token[5] or "write" in ROLE_PERMISSIONS.get(token[6] or "", frozenset()))
                and inbox[1] == token[2]
                and inbox[2] == "api"
                and inbox[3]
                and (lookup.inbox_id, lookup.provider_id) not in known
            )
            grants.append(Grant(token[2], token[3], token[1]) if ok and token else None)
        granted = {grant.token_id for grant in grants if grant is not None}
        stale = sorted(
            row[1]
            for row in tokens
            if row[1] in granted and (row[4] is None or row[4] <= fresh_after)
        )
        if stale:
            await self.store.run("write", [(TOKENS_USED_SQL, [stale, LAST_USED_FRESH])])
        return grants

    async def _insert(self, items: list[Accepted]) -> list[Answer]:
        first: dict[tuple[int, str], Accepted] = {}
        for item in items:
            first.setdefault((item.inbox_id, item.provider_id), item)
        rows = list(first.values())
        (inserted,) = await self.store.run(
            "write",
            [
                (
                    intake.INSERT_SQL,
                    [
                        intake.rows_document(
                            (
                                r.workspace_id,
                                r.inbox_id,
                                r.provider_id,
                                r.payload,
                                r.user_id,
                                r.token_id,
                            )
                            for r in rows
                        )
                    ],
                )
            ],
        )
        new = {(row[0], row[1]): row[2] for row in inserted}
        if new:
            self._kick.set()
        repeats = [key for key in first if key not in new]
        earlier: dict[tuple[int, str], list[Any]] = {}
        if repeats:
            (found,) = await self.store.run(
                "write",
                [(intake.EXISTING_SQL, [intake.keys_document(repeats)])],
            )
            earlier = {(row[0], row[1]): row for row in found}
        answers = []
        for item in items:
            key = (item.inbox_id, item.provider_id)
            if key in new:
                created = first[key] is item  # a copy in the same batch is a repeat
                body = _body(new[key], None, None, not created)
                answers.append(Answer(201 if created else 200, body))
            elif key in earlier and earlier[key][2] is not None:
                row = earlier[key]
                answers.append(Answer(200, _body(row[2], row[3], row[4], True)))
            else:  # the first was refused by the worker: Django answers with the error
                answers.append(Answer(0, None))
        return answers

    async def _wake_worker(self) -> None:
        # Looked up at each call: tests replace it.
        await wake_on_kick(self._kick, lambda: intake.wake_worker(), self.kicks)


def _body(
    message_id: int, conversation_id: int | None, customer_id: int | None, duplicate: bool
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "duplicate": duplicate,
        "conversation_created": False,
        "refused_attachments": [],
    }


class ApiIngest:
    """ASGI app: ordinary inbound API-channel messages served here (on PostgreSQL);
    everything else by `django_app`."""

    def __init__(self, django_app: ASGIApp) -> None:
        self.django_app = django_app
        self._runtime: Runtime | None = None
        self.enabled = bool(getattr(settings, "IS_POSTGRES", False))

    def runtime(self) -> Runtime:
        loop = asyncio.get_running_loop()
        if self._runtime is None or self._runtime.loop is not loop:
            self.close()
            self._runtime = Runtime()
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.enabled and scope["type"] == "http" and scope["method"] == "POST":
            found = INGEST_PATH.fullmatch(scope["path"])
            if found is not None:
                await self.ingest(scope, receive, send, int(found["inbox"]))
                return
        await self.django_app(scope, receive, send)

    async def ingest(self, scope: Scope, receive: Receive, send: Send, inbox_id: int) -> None:
        headers = dict(scope.get("headers") or [])
        try:
            length = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            length = MAX_BODY + 1
        if length > MAX_BODY:
            await self.django_app(scope, receive, send)
            return
        body, complete = await read_body(receive, limit=MAX_BODY)
        if body is None:
            return
        try:
            if not complete:
                raise Handover
            answer = await self._accept(headers, body, inbox_id)
        except Handover:
            await self.django_app(scope, replay(body, not complete, receive), send)
            return
        data = json.dumps(answer.body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [*HEADERS, (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def _accept(self, headers: dict[bytes, bytes], body: bytes, inbox_id: int) -> Answer:
        content_type = headers.get(b"content-type", b"").decode("latin-1").strip().lower()
        if content_type != "application/json":
            raise Handover
        scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key.startswith(TOKEN_PREFIX):
            raise Handover
        payload = _validated(body)
        runtime = self.runtime()
        grant = await runtime.reads.submit(
            Lookup(hashlib.sha256(key.encode()).hexdigest(), inbox_id, payload.provider_id)
        )
        if grant is None:
            raise Handover
        answer = await runtime.inserts.submit(
            Accepted(
                inbox_id=inbox_id,
                provider_id=payload.provider_id,
                workspace_id=grant.workspace_id,
                user_id=grant.user_id,
                token_id=grant.token_id,
                payload=payload.model_dump_json(),
            )
        )
        if answer.body is None:
            raise Handover
        return answer


def _validated(body: bytes) -> IngestIn:
    """The body as the operation would validate it, if it is an ordinary message: text, no
    attachments or HTML (their cleaning stays on the Django path), a handle that normalises."""
    try:
        payload = IngestIn.model_validate_json(body)
    except (ValidationError, ValueError):
        raise Handover from None
    if payload.attachments or payload.html or not payload.text:
        raise Handover
    try:
        normalize_identity(payload.customer.kind, payload.customer.value)
    except ValidationFailed:
        raise Handover from None
    return payload


def with_api_ingest(django_app: ASGIApp) -> ASGIApp:
    """`django_app` with ordinary inbound API-channel messages accepted in front of it."""
    return ApiIngest(django_app)
