"""Web chat writes: setting a widget up, and what a visitor does (start a session, write, send
a file, leave an email, read replies). Agents' side: typing shown to the visitor.

The caller (consumer or view) owns the transaction. Messages go through the inbox write path
(`inbox.services.message_receive`), so threading, idempotency, metrics, outbox events and the
agents' realtime feed are the inbox's, exactly as for every other channel.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from typing import Any

from ascolto.accounts.models import User
from ascolto.connectors.webchat import selectors
from ascolto.connectors.webchat.config import (
    COLOR,
    LOCALES,
    MAX_TEXT,
    UPLOAD_TYPES,
    normalize_origin,
    upload_max_bytes,
    widget_settings,
)
from ascolto.connectors.webchat.identity import (
    IdentityRejected,
    VisitorSession,
    issue_token,
    new_visitor_id,
    read_token,
    verify_user,
)
from ascolto.connectors.webchat.protocol import frame, visitor_message
from ascolto.connectors.webchat.push import push_on_commit
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers import services as customer_services
from ascolto.customers.models import Activity, Customer, Identity
from ascolto.customers.normalize import normalize_identity
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Channel, Conversation, Inbox, Message

WEBCHAT = Actor.system("webchat")
LOCALE = re.compile(r"[a-z]{2,3}")


# --- Setting a widget up (admins) -----------------------------------------------------------


def webchat_inbox_create(
    *,
    workspace: Workspace,
    name: str,
    actor: Actor,
    allowed_origins: list[str],
    **widget: Any,
) -> Inbox:
    """A webchat inbox with a fresh widget key and identity secret."""
    inbox = inbox_services.inbox_create(
        workspace_id=workspace.pk,
        name=name,
        channel=Channel.WEBCHAT,
        actor=actor,
        **{k: widget.pop(k) for k in ("team", "routing", "reopen_window_hours") if k in widget},
    )
    return widget_configure(inbox=inbox, actor=actor, allowed_origins=allowed_origins, **widget)


def _clean_texts(name: str, value: str | dict[str, str], errors: dict[str, list[str]]) -> Any:
    texts = {"en": value} if isinstance(value, str) else value
    if not isinstance(texts, dict) or any(
        k not in LOCALES or not isinstance(v, str) or len(v) > 500 for k, v in texts.items()
    ):
        errors[name] = [f"A text of at most 500 characters, or one per language ({LOCALES})."]
        return None
    return {k: v.strip() for k, v in texts.items() if v.strip()}


def widget_configure(
    *,
    inbox: Inbox,
    actor: Actor,
    allowed_origins: list[str] | None = None,
    greeting: str | dict[str, str] | None = None,
    offline_message: str | dict[str, str] | None = None,
    title: str | None = None,
    color: str | None = None,
    identity_required: bool | None = None,
) -> Inbox:
    """Change a webchat inbox's widget settings (None leaves a setting as it is). A widget key
    and an identity secret are generated the first time."""
    if inbox.channel != Channel.WEBCHAT:
        raise ValidationFailed("Only webchat inboxes have a widget.")
    errors: dict[str, list[str]] = {}
    raw: dict[str, Any] = dict((inbox.config or {}).get("widget") or {})
    raw.setdefault("key", secrets.token_urlsafe(18))
    raw.setdefault("secret", secrets.token_hex(32))
    if allowed_origins is not None:
        origins = [normalize_origin(o) for o in allowed_origins if o.strip()]
        bad = [o for o, n in zip(allowed_origins, origins, strict=False) if n is None]
        if bad or len(origins) > 50:
            errors["allowed_origins"] = [
                "Origins look like https://shop.example.com or https://*.example.com "
                f"(no path; at most 50). Not valid: {', '.join(bad[:5])}"
            ]
        raw["allowed_origins"] = sorted({o for o in origins if o})
    for name, value in (("greeting", greeting), ("offline_message", offline_message)):
        if value is not None:
            raw[name] = _clean_texts(name, value, errors)
    if title is not None:
        if len(title) > 80:
            errors["title"] = ["At most 80 characters."]
        raw["title"] = title.strip()
    if color is not None:
        if not COLOR.fullmatch(color):
            errors["color"] = ["A colour like #0f766e."]
        raw["color"] = color
    if identity_required is not None:
        raw["identity_required"] = bool(identity_required)
    if errors:
        raise ValidationFailed("The widget settings are not valid.", field_errors=errors)
    inbox.config = {**(inbox.config or {}), "widget": raw}
    inbox.save(update_fields=["config", "updated_at"])
    audit_record(
        workspace=inbox.workspace,
        actor=actor,
        action="webchat.configure",
        object_type="inbox",
        object_id=inbox.pk,
        changes={k: v for k, v in raw.items() if k != "secret"},
    )
    return inbox


def widget_rotate_secret(*, inbox: Inbox, actor: Actor) -> str:
    """A new identity verification secret; sessions verified with the old one must verify again.
    Returns the secret, to be given to the host site's back end."""
    if inbox.channel != Channel.WEBCHAT:
        raise ValidationFailed("Only webchat inboxes have a widget.")
    raw: dict[str, Any] = dict((inbox.config or {}).get("widget") or {})
    raw.setdefault("key", secrets.token_urlsafe(18))
    secret = raw["secret"] = secrets.token_hex(32)
    inbox.config = {**(inbox.config or {}), "widget": raw}
    inbox.save(update_fields=["config", "updated_at"])
    audit_record(
        workspace=inbox.workspace,
        actor=actor,
        action="webchat.rotate_secret",
        object_type="inbox",
        object_id=inbox.pk,
    )
    return secret


# --- Visitors -------------------------------------------------------------------------------


def visitor_session_start(
    *, inbox: Inbox, token: str = "", user_id: str = "", email: str = "", user_hash: str = ""
) -> tuple[VisitorSession, str]:
    """Resume the session of a token or start one; returns (session, token to keep).

    With a host-site identity (user id or email, and its hash) the identity must verify
    (IdentityRejected otherwise); the browser's token keeps its visitor id only if it was
    issued to that same identity. Without one, a token resumes its session (InvalidToken if it
    is not this widget's or has expired) and no token starts an anonymous visitor, unless the
    widget requires identities.
    """
    widget = widget_settings(inbox.config)
    previous: VisitorSession | None = None
    if token:
        previous = read_token(
            token, inbox_id=inbox.pk, workspace_id=inbox.workspace_id, secret=widget.secret
        )
    if user_id or email or user_hash:
        verified_id, verified_email = verify_user(
            secret=widget.secret, user_id=user_id, email=email, user_hash_hex=user_hash
        )
        same = previous is not None and (previous.user_id, previous.email) == (
            verified_id,
            verified_email,
        )
        session = VisitorSession(
            inbox.pk,
            inbox.workspace_id,
            previous.visitor_id if same and previous else new_visitor_id(),
            verified_id,
            verified_email,
        )
    elif previous is not None:
        session = previous
    else:
        if widget.identity_required:
            raise IdentityRejected("This chat is for signed-in users.")
        session = VisitorSession(inbox.pk, inbox.workspace_id, new_visitor_id())
    if widget.identity_required and not session.verified:
        raise IdentityRejected("This chat is for signed-in users.")
    return session, issue_token(session, secret=widget.secret)


def clean_locale(value: str) -> str:
    base = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return base if LOCALE.fullmatch(base) else ""


def visitor_customer_ensure(
    *,
    session: VisitorSession,
    name: str = "",
    locale: str = "",
    email: str = "",
    workspace: Workspace | None = None,
) -> Customer:
    """The visitor's customer, created on first need. A verified user id is the customer's
    external id; the email a host page sends beside it is added unverified if nobody has it.
    `workspace`: the session's, when the caller has it loaded already (its inbox's)."""
    customer = selectors.visitor_customer(session)
    if customer is not None:
        return customer
    if workspace is None or workspace.pk != session.workspace_id:
        workspace = Workspace.objects.get(pk=session.workspace_id)
    name, locale = name.strip()[:200], clean_locale(locale)
    if session.user_id:
        try:
            customer = customer_services.customer_create(
                workspace=workspace,
                actor=WEBCHAT,
                name=name,
                locale=locale,
                external_id=session.user_id,
            )
        except Conflict:  # another tab created it first
            found = selectors.visitor_customer(session)
            if found is None:
                raise
            return found
        if email:
            # Unverified: when taken or malformed, the customer is created without it.
            with contextlib.suppress(Conflict, ValidationFailed):
                customer_services.identity_add(
                    customer=customer, kind=Identity.Kind.EMAIL, value=email, actor=WEBCHAT
                )
        return customer
    kind, value = (
        (Identity.Kind.EMAIL, session.email)
        if session.email
        else (Identity.Kind.WEB, session.visitor_id)
    )
    customer, _ = customer_services.customer_get_or_create_by_identity(
        workspace=workspace, kind=kind, value=value, actor=WEBCHAT, name=name, locale=locale
    )
    return customer


def _client_id(value: object) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValidationFailed(
            "Each message needs a client_id (a UUID the widget generates).",
            field_errors={"client_id": ["A UUID."]},
        ) from None


def _provider_id(session: VisitorSession, client_id: str) -> str:
    # Namespaced by visitor: another visitor can never collide with (or read back, through a
    # "duplicate" answer) a message id that is not theirs.
    return f"webchat:{session.visitor_id}:{client_id}"


def _check_owner(result: inbox_services.ReceiveResult, customer: Customer) -> None:
    if result.duplicate and result.conversation.customer_id != customer.pk:
        raise Conflict("This message id is already used.")


def visitor_message_send(
    *,
    inbox: Inbox,
    session: VisitorSession,
    client_id: str,
    text: str,
    locale: str = "",
    name: str = "",
    email: str = "",
    page: str = "",
) -> inbox_services.ReceiveResult:
    """Store a visitor's message. A resend with the same client_id (after a reconnect) returns
    the stored message (`duplicate=True`) instead of storing it twice."""
    client_id = _client_id(client_id)
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text:
        raise ValidationFailed("Write a message first.", field_errors={"text": ["Required."]})
    if len(text) > MAX_TEXT:
        raise ValidationFailed(
            f"A message is at most {MAX_TEXT} characters.",
            field_errors={"text": [f"At most {MAX_TEXT} characters."]},
        )
    customer = visitor_customer_ensure(
        session=session, name=name, locale=locale, email=email, workspace=inbox.workspace
    )
    metadata: dict[str, object] = {"webchat": {"page": page[:500]}} if page else {}
    result = inbox_services.message_receive(
        inbox=inbox,
        customer=customer,
        text=text,
        provider_id=_provider_id(session, client_id),
        metadata=metadata,
    )
    _check_owner(result, customer)
    return result


# Magic numbers of the accepted types: what a file claims to be must match what it is.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


def sniff_type(content: bytes, claimed: str) -> str | None:
    """The accepted content type of a file, or None when its type is not accepted or its bytes
    are not of the type it claims."""
    kind = (claimed or "").split(";")[0].strip().lower()
    if kind not in UPLOAD_TYPES:
        return None
    if kind == "image/webp":
        return kind if content[:4] == b"RIFF" and content[8:12] == b"WEBP" else None
    if kind == "text/plain":
        try:
            decoded = content.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return kind if "\x00" not in decoded else None
    return kind if content.startswith(SIGNATURES[kind]) else None


def visitor_upload(
    *,
    inbox: Inbox,
    session: VisitorSession,
    client_id: str,
    filename: str,
    content_type: str,
    content: bytes,
    text: str = "",
    locale: str = "",
) -> inbox_services.ReceiveResult:
    """Store a file a visitor sent (with an optional caption) as a message. Raises
    ValidationFailed for an empty or too large file or a type that is not accepted."""
    client_id = _client_id(client_id)
    max_bytes = upload_max_bytes()
    if not content:
        raise ValidationFailed("The file is empty.", field_errors={"file": ["Empty file."]})
    if len(content) > max_bytes:
        raise ValidationFailed(
            f"Files are at most {max_bytes // (1024 * 1024)} MB.",
            field_errors={"file": ["Too large."]},
        )
    kind = sniff_type(content, content_type)
    if kind is None:
        raise ValidationFailed(
            "Send an image (PNG, JPEG, GIF, WebP), a PDF or a text file.",
            field_errors={"file": ["File type not accepted."]},
        )
    caption = (text or "").strip()[:MAX_TEXT]
    customer = visitor_customer_ensure(session=session, locale=locale, workspace=inbox.workspace)
    name = re.sub(r"[\x00-\x1f/\\]", "_", filename or "file")[-120:]
    result = inbox_services.message_receive(
        inbox=inbox,
        customer=customer,
        text=caption,
        provider_id=_provider_id(session, client_id),
        attachments=[inbox_services.IncomingAttachment(name, kind, content)],
    )
    _check_owner(result, customer)
    if result.refused_attachments:
        raise ValidationFailed(
            "The file was refused: " + "; ".join(result.refused_attachments),
            field_errors={"file": result.refused_attachments},
        )
    return result


def visitor_email_capture(
    *, inbox: Inbox, session: VisitorSession, email: str, locale: str = ""
) -> tuple[Customer, bool]:
    """A visitor nobody could answer leaves an email to be answered at. Returns (customer,
    linked): the email becomes an (unverified) identity of the visitor's customer unless it
    belongs to another customer, which it is never attached to (that would let anyone who
    types an address read its owner's chats). Either way a timeline note tells the agents."""
    normalized = normalize_identity(Identity.Kind.EMAIL, email)
    customer = visitor_customer_ensure(session=session, locale=locale, workspace=inbox.workspace)
    linked = True
    try:
        customer_services.identity_add(
            customer=customer, kind=Identity.Kind.EMAIL, value=normalized, actor=WEBCHAT
        )
    except Conflict:
        linked = False
    conversation = selectors.current_conversation(inbox=inbox, customer=customer)
    customer_services.activity_record(
        customer=customer,
        kind=Activity.Kind.NOTE,
        title=f"Web chat: asked to be answered by email at {normalized}",
        body="" if linked else "This address belongs to another customer; it was not linked.",
        data={
            "email": normalized,
            "linked": linked,
            "inbox_id": inbox.pk,
            "conversation_id": conversation.pk if conversation else None,
        },
        actor=WEBCHAT,
        source_type="webchat",
        source_id=f"email:{normalized}",
    )
    return customer, linked


def visitor_mark_read(*, inbox: Inbox, session: VisitorSession, up_to: int) -> int:
    """The visitor has seen every reply up to this message id: their delivery becomes read."""
    customer = selectors.visitor_customer(session)
    if customer is None or not isinstance(up_to, int) or isinstance(up_to, bool):
        return 0
    count = 0
    for message in selectors.unread_replies(inbox=inbox, customer=customer, up_to=up_to):
        if message.provider_id and inbox_services.message_delivery_update(
            inbox=inbox, provider_id=message.provider_id, status=Message.Delivery.READ
        ):
            count += 1
    return count


# --- Agents ---------------------------------------------------------------------------------


def agent_typing(*, conversation: Conversation, user: User, typing: bool) -> None:
    """Show (or stop showing) "<agent> is typing" in the visitor's widget. For the console."""
    if conversation.channel != Channel.WEBCHAT:
        return
    push_on_commit(
        inbox_id=conversation.inbox_id,
        customer_id=conversation.customer_id,
        frame=frame("typing", typing=bool(typing), author=user.first_name or ""),
    )


def reply_sent(*, message: Message) -> None:
    """Deliver an agent's (or the assistant's) reply to the visitor's widgets and record it as
    sent. Idempotent: a second delivery is ignored by widgets (they key messages by id)."""
    conversation = message.conversation
    if conversation.channel != Channel.WEBCHAT or message.kind == Message.Kind.NOTE:
        return
    if not message.provider_id:
        inbox_services.message_mark_sent(message=message, provider_id=f"webchat:out:{message.pk}")
    team = widget_settings(conversation.inbox.config).title
    push_on_commit(
        inbox_id=conversation.inbox_id,
        customer_id=conversation.customer_id,
        frame=frame("message", message=visitor_message(message, team_name=team)),
    )


def chat_ended(*, conversation: Conversation, survey_url: str = "") -> None:
    """Tell the visitor's widgets the conversation was resolved or closed."""
    if conversation.channel != Channel.WEBCHAT:
        return
    push_on_commit(
        inbox_id=conversation.inbox_id,
        customer_id=conversation.customer_id,
        frame=frame("ended", conversation_id=conversation.pk, survey_url=survey_url),
    )
