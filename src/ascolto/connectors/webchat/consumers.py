"""The widget's websocket, `ws/widget/?key=<widget key>`: JSON frames, one visitor per socket.

Opening the socket: the key names a webchat inbox; the page's Origin must be one of the
widget's allowed origins (or Ascolto's own host); an IP opening too many sockets is refused.
Refusals happen before the handshake completes (the browser sees a failed connection); the
widget learns why from `GET /widget/config`, which answers 403/404/429 for the same reasons.

Client -> server (`type` picks the kind; unknown fields are ignored):
  {"type": "hello", "token": "<kept from welcome>" | null, "last_id": 123 | null,
   "locale": "he", "user": {"id": "42", "email": "", "name": "Noa", "hash": "<hex>"} | null,
   "page": "https://shop.example.com/cart"}
      First frame, within 15 seconds. `last_id` (the last message the widget shows) asks for a
      resync instead of the history. `user` is the host site's signed-in user (identity.py).
  {"type": "message", "client_id": "<uuid>", "text": "..."}
      Stored once per client_id: resending after a reconnect is answered with the same ack.
  {"type": "typing", "typing": true | false}
  {"type": "email", "email": "noa@example.com"}      offline mode: answer me by email
  {"type": "sync", "last_id": 123}                   what happened after message 123
  {"type": "read", "last_id": 123}                   replies up to 123 are read
  {"type": "ping"}
  {"type": "suggest", "client_id": "<uuid>", "text": "..."}
      Before the first message starts a conversation, the widget holds it and asks for up to 3
      published help articles in the visitor's language (recorded as a deflection offer).
      No articles: the widget sends the message at once.
  {"type": "deflected", "offer_id": 7}               "this solved it" for an offer of this socket
  Files are sent with `POST /widget/upload` (views.py); the message comes back as an ack there
  and to the other tabs here.

Server -> client (schemas in protocol.SERVER_MESSAGES, pinned by contract tests):
  welcome {token, visitor: {name, email, verified}, online, reply: {open_now, next_open_at},
           messages: [...], has_more}
  sync {messages, has_more} · ack {client_id, message} · message {message}
  typing {typing, author} · ended {conversation_id, survey_url} · email_saved {email}
  suggestions {client_id, offer_id (0: none), articles: [{title, url, snippet}]}
  deflected {offer_id}
  error {code, detail, client_id} · pong {}
  A message is {id, conversation_id, kind: visitor|agent|bot|system, text, author, created_at,
  client_id, attachments: [{name, size, content_type, url}]}. Internal notes never leave.

Close codes: 4401 the token is not valid here (drop it, reconnect without), 4403 identity not
verified, 4408 no hello in time, 4429 too many frames (back off), 1009 frame too large.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import connections, transaction
from django.urls import reverse

from ascolto.assistant import services as assistant
from ascolto.assistant.models import DeflectionOffer
from ascolto.connectors.webchat import ratelimit, selectors, services
from ascolto.connectors.webchat.config import WidgetSettings, origin_allowed, widget_settings
from ascolto.connectors.webchat.events import VISITOR_TYPING
from ascolto.connectors.webchat.identity import IdentityRejected, InvalidToken, VisitorSession
from ascolto.connectors.webchat.protocol import error_frame, frame, visitor_message
from ascolto.connectors.webchat.push import envelope, visitor_group
from ascolto.core import realtime
from ascolto.core.consumers import DirectDispatch
from ascolto.core.errors import DomainError, NotFound, ValidationFailed
from ascolto.customers.models import Customer, Identity
from ascolto.inbox.models import Inbox

logger = logging.getLogger(__name__)

HELLO_TIMEOUT = 15.0
SHOWN_LIMIT = 1_000  # message ids a socket remembers having shown (see shown)
MAX_FRAME = 16 * 1024
SUGGEST_TEXT = 1000  # what the help center search reads of a question
TYPING_REPEAT = 2.0


@dataclass
class Visitor:
    session: VisitorSession
    token: str
    customer_id: int | None
    conversation_id: int | None
    name: str
    email: str


@dataclass
class Sent:
    message: dict[str, Any]
    customer_id: int


def _client_ip(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: object, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


# --- database work, run off the event loop ---------------------------------------------------


DB_THREADS = 4
# SQLite has a single writer: channels' one database thread serialises the work. PostgreSQL
# serves many at once: a pool keeps one socket's wait on the database from holding up every
# other socket's message.
_pool = (
    ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="webchat-db")
    if settings.IS_POSTGRES
    else None
)


def _db(func: Callable[..., Any]) -> Any:
    """Run database work off the event loop, closing stale connections around it (channels)."""
    if _pool is None:
        return DatabaseSyncToAsync(func)
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_pool)


def close_database_connections() -> None:
    """Close the connections the widget's database threads keep (at shutdown, between tests)."""
    if _pool is None:
        return
    barrier = threading.Barrier(DB_THREADS)  # holds each worker until all took one task

    def close() -> None:
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        finally:
            connections.close_all()

    for future in [_pool.submit(close) for _ in range(DB_THREADS)]:
        future.result()


class _Recent:
    """A few seconds' memory of per-widget reads every socket of a widget repeats (its inbox
    and settings on connect, whether an agent is online on hello), so a burst of visitors,
    or a reconnect storm after a deploy, costs one query per widget instead of one per socket.
    A settings change (allowed origins, texts) reaches new sockets within `ttl` seconds."""

    def __init__(self, ttl: float, size: int = 1000) -> None:
        self.ttl, self.size = ttl, size
        self.items: dict[object, tuple[float, Any]] = {}

    def get(self, key: object) -> tuple[bool, Any]:
        found = self.items.get(key)
        if found is None or found[0] < time.monotonic():
            return False, None
        return True, found[1]

    def put(self, key: object, value: Any) -> Any:
        if len(self.items) >= self.size:
            self.items.clear()
        self.items[key] = (time.monotonic() + self.ttl, value)
        return value


_inboxes = _Recent(ttl=10.0)
_availability = _Recent(ttl=5.0)


@_db
def _read_inbox(key: str) -> Inbox | None:
    return selectors.inbox_for_key(key)


async def _inbox_for_key(key: str) -> Inbox | None:
    known, inbox = _inboxes.get(key)
    if not known:
        inbox = _inboxes.put(key, await _read_inbox(key))
    return inbox  # type: ignore[no-any-return]


def _online(inbox: Inbox, key: str) -> tuple[bool, dict[str, object]]:
    known, value = _availability.get(key)
    if known:
        return value  # type: ignore[no-any-return]
    if selectors.agents_online(inbox):
        result: tuple[bool, dict[str, object]] = (True, {"open_now": True, "next_open_at": None})
    else:
        result = (False, selectors.reply_expectation(inbox).as_dict())
    return _availability.put(key, result)  # type: ignore[no-any-return]


@_db
def _start(inbox: Inbox, hello: dict[str, Any]) -> Visitor:
    raw_user = hello.get("user")
    user: dict[str, Any] = raw_user if isinstance(raw_user, dict) else {}
    session, token = services.visitor_session_start(
        inbox=inbox,
        token=_text(hello.get("token"), 1000),
        user_id=_text(user.get("id"), 300),
        email=_text(user.get("email"), 300),
        user_hash=_text(user.get("hash"), 200),
    )
    customer = selectors.visitor_customer(session)
    conversation = selectors.current_conversation(inbox=inbox, customer=customer)
    email = ""
    if customer is not None:
        email = (
            customer.identities.filter(kind=Identity.Kind.EMAIL)
            .order_by("-is_primary", "pk")
            .values_list("value", flat=True)
            .first()
        ) or ""
    return Visitor(
        session=session,
        token=token,
        customer_id=customer.pk if customer else None,
        conversation_id=conversation.pk if conversation else None,
        name=customer.name if customer else _text(user.get("name"), 200),
        email=email,
    )


def _visible_messages(
    inbox: Inbox, widget: WidgetSettings, session: VisitorSession, after_id: int | None
) -> tuple[list[dict[str, Any]], bool]:
    customer = selectors.visitor_customer(session)
    rows, has_more = selectors.visitor_messages(inbox=inbox, customer=customer, after_id=after_id)
    return [visitor_message(m, team_name=widget.title) for m in rows], has_more


_messages = _db(_visible_messages)


@_db
def _welcome(
    inbox: Inbox, widget: WidgetSettings, session: VisitorSession, after_id: int | None
) -> tuple[list[dict[str, Any]], bool, bool, dict[str, object]]:
    """(messages, has_more, online, reply expectation) for the welcome frame."""
    messages, has_more = _visible_messages(inbox, widget, session, after_id)
    online, reply = _online(inbox, widget.key)
    return messages, has_more, online, reply


@_db
def _send_message(
    inbox: Inbox,
    widget: WidgetSettings,
    visitor: Visitor,
    content: dict[str, Any],
    locale: str,
    page: str,
    user: dict[str, Any],
    ip: str,
) -> Sent | None:
    """The stored message (None: the IP sends too fast). The IP's count is taken in the same
    hop off the event loop as the write, not in one of its own."""
    if ratelimit.hit("message", ip):
        return None
    with transaction.atomic():
        result = services.visitor_message_send(
            inbox=inbox,
            session=visitor.session,
            client_id=_text(content.get("client_id"), 100),
            text=_text(content.get("text"), 20_000),
            locale=locale,
            name=_text(user.get("name"), 200),
            email=_text(user.get("email"), 300),
            page=page,
        )
        # A text message from the widget has no attachment (files come through the upload).
        payload = visitor_message(result.message, team_name=widget.title, attachments=[])
    return Sent(payload, result.conversation.customer_id)


@_db
def _capture_email(inbox: Inbox, visitor: Visitor, email: str, locale: str) -> tuple[int, str]:
    with transaction.atomic():
        customer, _linked = services.visitor_email_capture(
            inbox=inbox, session=visitor.session, email=email, locale=locale
        )
    return customer.pk, email.strip().lower()


@_db
def _suggest(inbox: Inbox, visitor: Visitor, text: str, locale: str) -> tuple[int, list[Any]]:
    """(offer id or 0, articles) for a held first message; the offer is recorded."""
    workspace = inbox.workspace
    customer = (
        Customer.objects.filter(workspace=workspace, pk=visitor.customer_id).first()
        if visitor.customer_id is not None
        else None
    )
    with transaction.atomic():
        offer, results = assistant.deflection_offer(
            workspace=workspace,
            source=DeflectionOffer.Source.WIDGET,
            language=locale,
            text=text,
            customer=customer,
            visitor_key=visitor.session.visitor_id,
        )
    if offer is None:
        return 0, []
    return offer.pk, [
        {
            "title": r.title,
            "url": reverse(
                "helpcenter:article",
                kwargs={"ws": workspace.slug, "lang": offer.language, "slug": r.slug},
            ),
            "snippet": r.snippet,
        }
        for r in results
    ]


@_db
def _confirm_deflection(inbox: Inbox, offer_id: int) -> None:
    with transaction.atomic():
        assistant.deflection_confirm(workspace=inbox.workspace, offer_id=offer_id)


@_db
def _mark_read(inbox: Inbox, visitor: Visitor, up_to: int) -> int:
    with transaction.atomic():
        return services.visitor_mark_read(inbox=inbox, session=visitor.session, up_to=up_to)


class WidgetConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """One widget tab. State: the inbox (from the key), then the visitor (from hello)."""

    inbox: Inbox | None = None
    widget: WidgetSettings
    visitor: Visitor | None = None
    group: str = ""
    ip: str = ""
    locale: str = ""
    page: str = ""
    user: dict[str, Any]
    typing_state: bool = False
    typing_at: float = 0.0
    read_up_to: int = 0
    offers: set[int]
    # Messages this socket already sent in a welcome, a sync, a catch-up or an ack: a push of
    # one of them that was on its way when the tab read it (another tab's message, a reply) is
    # dropped.
    shown: set[int]

    async def connect(self) -> None:
        self.user = {}
        self.offers = set()
        self.shown = set()
        self.suggests = ratelimit.TokenBucket(capacity=5, rate=0.2)
        self.frames = ratelimit.TokenBucket(capacity=30, rate=3.0)
        self.messages = ratelimit.TokenBucket(capacity=5, rate=0.5)
        self.ip = _client_ip(self.scope)
        if await sync_to_async(ratelimit.hit, thread_sensitive=False)("connect", self.ip):
            await self.close(code=4429)
            return
        params = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        inbox = await _inbox_for_key(params.get("key", [""])[0])
        if inbox is None:
            await self.close(code=4404)
            return
        widget = widget_settings(inbox.config)
        origin = _header(self.scope, b"origin")
        if not origin_allowed(
            origin=origin, allowed=widget.allowed_origins, server_host=_header(self.scope, b"host")
        ):
            logger.info("Widget socket refused for origin %r (inbox %s)", origin, inbox.pk)
            await self.close(code=4403)
            return
        self.inbox, self.widget = inbox, widget
        await self.accept()
        self._hello_timer = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT, self._hello_timeout
        )

    def _hello_timeout(self) -> None:
        if self.visitor is None:
            self._closing = asyncio.ensure_future(self.close(code=4408))

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "_hello_timer", None)
        if timer is not None:
            timer.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.typing_state:
            await self._publish_typing(False)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"))

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if not self.frames.take():
            await self.send_json(error_frame("rate_limited", "Too many frames; slow down."))
            await self.close(code=4429)
            return
        if text_data is None or len(text_data) > MAX_FRAME:
            await self.send_json(error_frame("frame_too_large", "Frames are JSON text, < 16 KB."))
            await self.close(code=1009)
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_json(error_frame("bad_json", "Frames must be JSON objects."))
            return
        if not isinstance(content, dict):
            await self.send_json(error_frame("bad_json", "Frames must be JSON objects."))
            return
        try:
            await self.receive_json(content)
        except DomainError as exc:
            client_id = _text(content.get("client_id"), 100)
            await self.send_json(error_frame(exc.code, exc.message, client_id))
        except OSError:
            pass  # the visitor left while the frame was handled; the widget resyncs on return
        except Exception:
            logger.exception("Widget frame %r failed", content.get("type"))
            with contextlib.suppress(OSError):
                await self.send_json(error_frame("server_error", "Something went wrong; retry."))

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        kind = content.get("type")
        if kind == "ping":
            await self.send_json(frame("pong"))
        elif kind == "hello":
            await self._hello(content)
        elif self.visitor is None:
            await self.send_json(error_frame("hello_first", "Send hello first."))
        elif kind == "message":
            await self._message(content)
        elif kind == "typing":
            await self._typing(content.get("typing") is True)
        elif kind == "email":
            await self._email(content)
        elif kind == "sync":
            await self._on_sync(_int_or_none(content.get("last_id")) or 0)
        elif kind == "read":
            await self._read(_int_or_none(content.get("last_id")))
        elif kind == "suggest":
            await self._suggest(content)
        elif kind == "deflected":
            await self._deflected(_int_or_none(content.get("offer_id")))
        else:
            await self.send_json(error_frame("unknown_type", "Unknown frame type."))

    # --- frames ------------------------------------------------------------------------------

    async def _hello(self, content: dict[str, Any]) -> None:
        assert self.inbox is not None
        self.locale = services.clean_locale(_text(content.get("locale"), 20))
        self.page = _text(content.get("page"), 500)
        user = content.get("user")
        self.user = user if isinstance(user, dict) else {}
        try:
            visitor = await _start(self.inbox, content)
        except InvalidToken as exc:
            await self.send_json(error_frame(exc.code, exc.message))
            await self.close(code=4401)
            return
        except IdentityRejected as exc:
            await self.send_json(error_frame(exc.code, exc.message))
            await self.close(code=4403)
            return
        self.visitor = visitor
        if visitor.customer_id is not None:
            await self._join(visitor.customer_id)
        # Read after joining the group: a reply published in between is pushed, read, or both
        # (the widget keys messages by id), never lost.
        messages, has_more, online, reply = await _welcome(
            self.inbox, self.widget, visitor.session, _int_or_none(content.get("last_id"))
        )
        self._showing(messages)
        await self.send_json(
            frame(
                "welcome",
                token=visitor.token,
                visitor={
                    "name": visitor.name,
                    "email": visitor.email,
                    "verified": visitor.session.verified,
                },
                online=online,
                reply=reply,
                messages=messages,
                has_more=has_more,
            )
        )

    async def _join(self, customer_id: int) -> None:
        assert self.inbox is not None
        group = visitor_group(self.inbox.pk, customer_id)
        if group == self.group:
            return
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)

    async def _message(self, content: dict[str, Any]) -> None:
        assert self.inbox is not None
        assert self.visitor is not None
        client_id = _text(content.get("client_id"), 100)
        sent = None
        if self.messages.take():
            sent = await _send_message(
                self.inbox,
                self.widget,
                self.visitor,
                content,
                self.locale,
                self.page,
                self.user,
                self.ip,
            )
        if sent is None:
            await self.send_json(
                error_frame("rate_limited", "You are sending messages too fast.", client_id)
            )
            return
        self.visitor.customer_id = sent.customer_id
        self.visitor.conversation_id = sent.message["conversation_id"]
        joining = self.group != visitor_group(self.inbox.pk, sent.customer_id)
        await self._join(sent.customer_id)
        self._showing([sent.message])
        await self.send_json(
            frame("ack", client_id=sent.message["client_id"], message=sent.message)
        )
        if joining:
            # A first message creates the visitor's group only now: an answer published before
            # the join (the assistant's, dispatched on commit) is read here instead of lost.
            answers, _more = await _messages(
                self.inbox, self.widget, self.visitor.session, sent.message["id"]
            )
            self._showing(answers)
            for answer in answers:
                await self.send_json(frame("message", message=answer))
        await self.channel_layer.group_send(
            self.group,
            envelope(frame("message", message=sent.message), skip_channel=self.channel_name),
        )
        if self.typing_state:
            self.typing_state = False

    async def _typing(self, typing: bool) -> None:
        now = time.monotonic()
        if typing == self.typing_state and now - self.typing_at < TYPING_REPEAT:
            return
        self.typing_state, self.typing_at = typing, now
        await self._publish_typing(typing)

    async def _publish_typing(self, typing: bool) -> None:
        if self.inbox is None or self.visitor is None or self.visitor.conversation_id is None:
            return
        payload = {"conversation_id": self.visitor.conversation_id, "typing": typing}
        realtime.validate_event(VISITOR_TYPING, payload)
        await self.channel_layer.group_send(
            realtime.workspace_group(self.inbox.workspace_id),
            realtime.envelope(
                workspace_id=self.inbox.workspace_id, event=VISITOR_TYPING, payload=payload
            ),
        )

    async def _email(self, content: dict[str, Any]) -> None:
        assert self.inbox is not None
        assert self.visitor is not None
        if await sync_to_async(ratelimit.hit, thread_sensitive=False)("email", self.ip):
            await self.send_json(error_frame("rate_limited", "Too many attempts; try later."))
            return
        customer_id, email = await _capture_email(
            self.inbox, self.visitor, _text(content.get("email"), 300), self.locale
        )
        self.visitor.customer_id, self.visitor.email = customer_id, email
        await self._join(customer_id)
        await self.send_json(frame("email_saved", email=email))

    async def _suggest(self, content: dict[str, Any]) -> None:
        assert self.inbox is not None
        assert self.visitor is not None
        client_id = _text(content.get("client_id"), 100)
        text = content.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("suggest needs the text of the question.")
        if not self.suggests.take() or await sync_to_async(ratelimit.hit, thread_sensitive=False)(
            "suggest", self.ip
        ):
            await self.send_json(
                error_frame("rate_limited", "Too many suggestion requests.", client_id)
            )
            return
        offer_id, articles = await _suggest(
            self.inbox, self.visitor, text.strip()[:SUGGEST_TEXT], self.locale
        )
        if offer_id:
            self.offers.add(offer_id)
        await self.send_json(
            frame("suggestions", client_id=client_id, offer_id=offer_id, articles=articles)
        )

    async def _deflected(self, offer_id: int | None) -> None:
        assert self.inbox is not None
        # Only what this socket offered: a visitor cannot confirm someone else's offer.
        if offer_id is None or offer_id not in self.offers:
            raise NotFound("No such suggestion in this chat.")
        await _confirm_deflection(self.inbox, offer_id)
        await self.send_json(frame("deflected", offer_id=offer_id))

    async def _on_sync(self, last_id: int) -> None:
        assert self.inbox is not None
        assert self.visitor is not None
        messages, has_more = await _messages(self.inbox, self.widget, self.visitor.session, last_id)
        self._showing(messages)
        await self.send_json(frame("sync", messages=messages, has_more=has_more))

    async def _read(self, last_id: int | None) -> None:
        assert self.inbox is not None
        assert self.visitor is not None
        if last_id is None or last_id <= self.read_up_to:
            return
        self.read_up_to = last_id
        await _mark_read(self.inbox, self.visitor, last_id)

    def _showing(self, messages: list[dict[str, Any]]) -> None:
        if len(self.shown) > SHOWN_LIMIT:
            self.shown.clear()  # a push this late is a duplicate the widget ignores anyway
        self.shown.update(m["id"] for m in messages)

    # --- channel layer -----------------------------------------------------------------------

    async def webchat_push(self, event: dict[str, Any]) -> None:
        if event.get("skip") == self.channel_name:
            return
        pushed = event["frame"]
        if pushed.get("type") == "message" and self.visitor is not None:
            if pushed["message"]["id"] in self.shown:
                return  # kept: the same message can be pushed more than once
            self.visitor.conversation_id = pushed["message"]["conversation_id"]
        await self.send_json(pushed)
