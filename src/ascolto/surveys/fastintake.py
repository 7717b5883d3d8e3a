"""Survey page submits outside Django's request cycle (docs/decisions/0011).

`POST /s/<token>/` is the one request of a survey wave that comes by the thousand, and Django's
request cycle (middleware, request parsing, a thread per request under ASGI) costs it ~20 ms
of CPU, twenty times what 1,000 answers a second on 2 cores allow. This small ASGI app sits in
front of Django (config/asgi.py) and serves that route itself when the submit is an ordinary
one: the client is under its rate limit, the link verifies, the survey is open and the answers
fit. It then appends the Submission row exactly as the intake does (services/intake.py: the same
validation, key and INSERT, so a double submit or a retry is stored once) and answers with the
same redirect as the Django view, only after the row is committed.

Everything else goes to the Django view unchanged, body included, which answers it as before:
a link that does not verify (404), a closed survey (410), an oversize body (413), a form with
no or unknown questions (400), answers that do not fit (422, the page again with the errors),
anything not a plain urlencoded form. The rate limit is counted once: the verdict travels with
the request in the ASGI scope (ratelimit.SCOPE_KEY). A rate-limited client is answered here
(429) without Django, since a flood is exactly when the cheap answer matters.

Per process, requests meet in three batchers, each one task draining a queue: the rate limit
counts (one Redis script call), the link and state reads (two queries for all waiting requests)
and the inserts (group commit: one multi-row INSERT ... ON CONFLICT DO NOTHING, committed, then
every waiting request is answered). On PostgreSQL they use psycopg async connections of their
own; elsewhere (SQLite, the embedded setup) Django's connection in one thread. After a commit
that stored rows the intake worker is woken (intake.wake_worker, in a thread); if that is lost,
its periodic sweeper completes the rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import connection, connections, transaction
from django.http import HttpRequest, parse_cookie
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

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
from ascolto.surveys import ratelimit, tokens
from ascolto.surveys.definitions import survey_questions
from ascolto.surveys.models import Question, Survey
from ascolto.surveys.services import intake
from ascolto.surveys.views import MAX_CHOICES, MAX_SUBMIT_BYTES

logger = logging.getLogger(__name__)

BATCH = 500
MAX_SURVEYS = 512
# The token is one path segment, as Django's <str:token> (surveys/urls.py, mounted at s/).
PAGE_PATH = re.compile(r"/s/(?P<token>[^/]+)/")
FORM_TYPE = "application/x-www-form-urlencoded"
INVITATIONS_SQL = (
    "SELECT i.id, i.workspace_id, i.survey_id, i.token_digests, i.expires_at, i.language,"
    " s.updated_at FROM surveys_invitation i JOIN surveys_survey s ON s.id = i.survey_id"
    " WHERE i.id IN ({marks})"
)
# On PostgreSQL the ids go as one array: one statement text whatever the batch size, so the
# server parses and plans it once per connection.
ANY_ID = "SELECT unnest(%s::bigint[])"
# What Django's middleware adds to every response (SecurityMiddleware, XFrameOptionsMiddleware),
# with the survey pages' own (views._secure): the URL carries the token.
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-store, private"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-robots-tag", b"noindex, nofollow"),
]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Link:
    """What a submit needs of an invitation, read in one batch with its answers so far."""

    invitation_id: int
    workspace_id: int
    survey_id: int
    digests: list[str]
    expires_at: dt.datetime | None
    language: str
    survey_version: Any
    state_rows: list[tuple[Any, ...]]


class Store(Protocol):
    def close(self) -> None: ...

    async def read(self, invitation_ids: list[int]) -> dict[int, Link]: ...

    async def insert(self, rows: list[intake.PreparedSubmission]) -> set[tuple[int, str]]: ...


def _links(
    invitation_rows: Sequence[Sequence[Any]], state_rows: Sequence[Sequence[Any]]
) -> dict[int, Link]:
    states: dict[int, list[tuple[Any, ...]]] = {}
    for row in state_rows:
        states.setdefault(row[0], []).append(tuple(row[1:]))
    found: dict[int, Link] = {}
    for pk, workspace_id, survey_id, digests, expires_at, language, version in invitation_rows:
        found[pk] = Link(
            invitation_id=pk,
            workspace_id=workspace_id,
            survey_id=survey_id,
            digests=list(json.loads(digests) if isinstance(digests, str) else digests or []),
            expires_at=_aware(expires_at),
            language=language,
            survey_version=version,
            state_rows=states.get(pk, []),
        )
    return found


def _aware(value: Any) -> dt.datetime | None:
    if value is None or (isinstance(value, dt.datetime) and value.tzinfo is not None):
        return value
    moment = value if isinstance(value, dt.datetime) else parse_datetime(str(value))
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


class PostgresStore:
    """Reads and group commits on psycopg async connections of this process's loop (one for
    reads, one for writes; each in autocommit, so one INSERT statement is one commit)."""

    def __init__(self) -> None:
        self._connections = AsyncConnections("ascolto-survey-submits")

    def close(self) -> None:
        """Close the connections without their loop (it may be gone)."""
        self._connections.close()

    async def _run(self, name: str, work: Callable[[Any], Awaitable[R]]) -> R:
        return await self._connections.run(name, work)

    async def read(self, invitation_ids: list[int]) -> dict[int, Link]:
        async def work(conn: Any) -> dict[int, Link]:
            async with conn.cursor() as cursor:
                await cursor.execute(INVITATIONS_SQL.format(marks=ANY_ID), [invitation_ids])
                invitations = await cursor.fetchall()
                await cursor.execute(
                    intake.STATE_MANY_SQL.format(marks=ANY_ID), [invitation_ids, invitation_ids]
                )
                return _links(invitations, await cursor.fetchall())

        return await self._run("read", work)

    async def insert(self, rows: list[intake.PreparedSubmission]) -> set[tuple[int, str]]:
        params = [intake.insert_document(rows)]

        async def work(conn: Any) -> set[tuple[int, str]]:
            async with conn.cursor() as cursor:
                await cursor.execute(intake.INSERT_DOCUMENT_SQL, params)
                return {(pk, key) for pk, key in await cursor.fetchall()}

        return await self._run("write", work)


class DjangoStore:
    """Reads and group commits through Django's connection in one thread of their own (the
    embedded setup on SQLite: correct, not built for 1,000 a second)."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self._executor = executor

    def close(self) -> None:
        """Nothing of its own to close: the thread's connection is Django's."""

    async def read(self, invitation_ids: list[int]) -> dict[int, Link]:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._read, invitation_ids
        )

    async def insert(self, rows: list[intake.PreparedSubmission]) -> set[tuple[int, str]]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._insert, rows)

    @staticmethod
    def _read(invitation_ids: list[int]) -> dict[int, Link]:
        with connection.cursor() as cursor:
            cursor.execute(
                INVITATIONS_SQL.format(marks=_marks(len(invitation_ids))), invitation_ids
            )
            invitations = cursor.fetchall()
            cursor.execute(intake.state_many_sql(len(invitation_ids)), invitation_ids * 2)
            return _links(invitations, cursor.fetchall())

    @staticmethod
    def _insert(rows: list[intake.PreparedSubmission]) -> set[tuple[int, str]]:
        ops = connection.ops
        params = [
            value
            for row in rows
            for value in row.params(
                answers=ops.adapt_json_value(row.page, None),
                received_at=ops.adapt_datetimefield_value(row.received_at),
            )
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(intake.insert_sql(len(rows)), params)
            return {(pk, key) for pk, key in cursor.fetchall()}


@dataclass(frozen=True)
class Definition:
    survey: Survey
    questions: list[Question]
    by_key: dict[str, Question]


# Tokens whose signature verified, so a survey's later pages skip the HMAC (the nonce is still
# checked against the invitation's digests on every submit). Only this loop's thread uses it.
MAX_TOKENS = 20_000
_verified: OrderedDict[str, tokens.ParsedToken] = OrderedDict()


def _parse_token(token: str) -> tokens.ParsedToken | None:
    parsed = _verified.get(token)
    if parsed is None:
        parsed = tokens.parse_token(token)
        if parsed is not None:
            _verified[token] = parsed
            if len(_verified) > MAX_TOKENS:
                _verified.popitem(last=False)
    return parsed


_definitions_lock = threading.Lock()
_definitions: OrderedDict[tuple[int, Any], Definition] = OrderedDict()
_pages_429: dict[str, bytes] = {}


def _load_definition(survey_id: int) -> Definition:
    try:
        survey = Survey.objects.get(pk=survey_id)
        questions = survey_questions(survey)
    finally:
        if settings.IS_POSTGRES:  # rare here: give the connection back (to the pool, if any)
            connection.close()
    return Definition(survey, questions, {question.key: question for question in questions})


class Runtime:
    """The batchers, connections and threads of one event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.django = ThreadPoolExecutor(1, thread_name_prefix="survey-submits")
        self.kicks = ThreadPoolExecutor(1, thread_name_prefix="survey-intake-wake")
        self.store: Store = PostgresStore() if settings.IS_POSTGRES else DjangoStore(self.django)
        self.hits: Batcher[str, int] = Batcher(ratelimit.hits_many)
        self.reads: Batcher[int, Link | None] = Batcher(self._read)
        self.inserts: Batcher[intake.PreparedSubmission, bool] = Batcher(self._insert)
        self._kick = asyncio.Event()
        self._kicker = self.loop.create_task(self._wake_worker())

    def close(self) -> None:
        """Stop this loop's tasks and close its connections (the loop may be gone)."""
        self._kicker.cancel()
        for batcher in (self.hits, self.reads, self.inserts):
            batcher.cancel()
        self.store.close()
        # The threads' own Django connections (the wake-up job runs there when Huey is
        # immediate; definitions and the 429 page are read in the other).
        for pool in (self.django, self.kicks):
            pool.submit(connections.close_all)
            pool.shutdown(wait=False)

    async def _read(self, invitation_ids: list[int]) -> list[Link | None]:
        found = await self.store.read(sorted(set(invitation_ids)))
        return [found.get(pk) for pk in invitation_ids]

    async def _insert(self, rows: list[intake.PreparedSubmission]) -> list[bool]:
        unique: dict[tuple[int, str], intake.PreparedSubmission] = {}
        for row in rows:
            unique.setdefault((row.invitation_id, row.key), row)
        stored = await self.store.insert(list(unique.values()))
        if stored:
            self._kick.set()
        # A copy in the same batch is a double submit too: only its first is "stored".
        return [
            (row.invitation_id, row.key) in stored and unique[row.invitation_id, row.key] is row
            for row in rows
        ]

    async def _wake_worker(self) -> None:
        # Looked up at each call: tests replace it.
        await wake_on_kick(self._kick, lambda: intake.wake_worker(), self.kicks)

    async def definition(self, link: Link) -> Definition:
        key = (link.survey_id, link.survey_version)
        with _definitions_lock:
            found = _definitions.get(key)
        if found is None:
            found = await self.loop.run_in_executor(self.django, _load_definition, link.survey_id)
            with _definitions_lock:
                _definitions[key] = found
                while len(_definitions) > MAX_SURVEYS:
                    _definitions.popitem(last=False)
        return found

    async def page_429(self, scope: Scope) -> bytes:
        request = HttpRequest()
        headers = dict(scope.get("headers") or [])
        request.META["HTTP_ACCEPT_LANGUAGE"] = headers.get(b"accept-language", b"").decode(
            "latin-1"
        )
        request.COOKIES = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
        language = translation.get_language_from_request(request)
        page = _pages_429.get(language)
        if page is None:
            page = await self.loop.run_in_executor(self.django, _render_429, language)
            _pages_429[language] = page
        return page


def _render_429(language: str) -> bytes:
    """The Django view's 429 page (views._rate_limited), which names no survey."""
    with translation.override(language):
        return render_to_string(
            "surveys/message.html",
            {
                "title": _("Too many requests"),
                "text": _("Please wait a minute and try again."),
                "language": language,
                "rtl": translation.get_language_bidi(),
                "survey_title": "",
            },
        ).encode()


class Handover(Exception):
    """The request is the Django view's to answer (anything but an ordinary submit)."""


class SurveySubmits:
    """ASGI app: POST /s/<token>/ served here when it is an ordinary submit; everything else,
    and that route in every other case, by `django_app`."""

    def __init__(self, django_app: ASGIApp) -> None:
        self.django_app = django_app
        self._runtime: Runtime | None = None

    def runtime(self) -> Runtime:
        loop = asyncio.get_running_loop()
        if self._runtime is None or self._runtime.loop is not loop:
            self.close()
            self._runtime = Runtime()
        return self._runtime

    def close(self) -> None:
        """Let go of the connections and threads (at shutdown; or when a new loop serves)."""
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            found = PAGE_PATH.fullmatch(scope["path"])
            if found is not None:
                await self.page_submit(scope, receive, send, found["token"])
                return
        await self.django_app(scope, receive, send)

    async def page_submit(self, scope: Scope, receive: Receive, send: Send, token: str) -> None:
        runtime = self.runtime()
        client = scope.get("client")
        wait = await runtime.hits.submit(str(client[0]) if client else "unknown")
        if wait:
            await _respond(
                send,
                429,
                await runtime.page_429(scope),
                [(b"retry-after", str(wait).encode())],
            )
            return
        handed = {**scope, ratelimit.SCOPE_KEY: 0}
        headers = dict(scope.get("headers") or [])
        try:
            length = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0
        if length > MAX_SUBMIT_BYTES:
            await self.django_app(handed, receive, send)
            return
        body, complete = await read_body(receive, limit=MAX_SUBMIT_BYTES)
        if body is None:  # the client went away
            return
        try:
            if not complete:
                raise Handover
            location = await self._accept(runtime, scope, headers, body, token)
        except Handover:
            await self.django_app(handed, replay(body, not complete, receive), send)
            return
        await _respond(send, 302, b"", [(b"location", location.encode())])

    async def _accept(
        self, runtime: Runtime, scope: Scope, headers: dict[bytes, bytes], body: bytes, token: str
    ) -> str:
        """Store an ordinary submit and return where the Django view would redirect; raise
        Handover for anything else."""
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if content_type.split(";", 1)[0].strip().lower() != FORM_TYPE or "charset" in content_type:
            raise Handover
        parsed = _parse_token(token)
        if parsed is None:
            raise Handover
        link = await runtime.reads.submit(parsed.invitation_id)
        if link is None or not tokens.digest_matches(parsed.nonce, link.digests):
            raise Handover
        definition = await runtime.definition(link)
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        wanted = (query.get("lang") or [""])[-1]
        language = wanted if wanted in definition.survey.languages else link.language
        state = intake.state_from_rows(link.state_rows, definition.questions)
        if state.completed:  # a double submit: the first one was recorded
            return _page_url(scope["path"], language, link, done=True)
        if link.expires_at is not None and link.expires_at <= timezone.now():
            raise Handover
        try:
            form = urllib.parse.parse_qsl(
                body.decode("utf-8", errors="replace"),
                keep_blank_values=True,
                max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
            )
        except ValueError:
            raise Handover from None
        fields: dict[str, list[str]] = {}
        for name, value in form:
            fields.setdefault(name, []).append(value)
        by_key = definition.by_key
        keys = [k for k in dict.fromkeys(fields.get("q", [])) if k][: len(definition.questions)]
        if not keys or any(k not in by_key for k in keys):
            raise Handover
        posted: dict[str, Any] = {
            key: fields.get(key, [])[:MAX_CHOICES]
            if by_key[key].type == Question.Type.MULTIPLE_CHOICE
            else (fields.get(key) or [""])[-1]
            for key in keys
        }
        try:
            prepared = intake.submission_prepare(
                workspace_id=link.workspace_id,
                invitation_id=link.invitation_id,
                questions=definition.questions,
                state=state,
                answers=posted,
                keys=keys,
                language=language,
            )
        except ValidationFailed:
            raise Handover from None
        await runtime.inserts.submit(prepared)
        return _page_url(scope["path"], language, link, done=prepared.completes)


def _page_url(path: str, language: str, link: Link, *, done: bool) -> str:
    """views._page_url: the page, with done=1 once answered and the language when it is not
    the invitation's."""
    params = {"done": "1"} if done else {}
    if language != link.language:
        params["lang"] = language
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return path + (f"?{query}" if query else "")


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def with_survey_submits(django_app: ASGIApp) -> ASGIApp:
    """`django_app` with the survey page submits served in front of it."""
    return SurveySubmits(django_app)
