"""Who is at the other end of a widget: signed visitor tokens and identity verification.

Visitor token: a browser gets a random visitor id on its first visit, sent back to it inside
a token signed with Django's SECRET_KEY (`signing.dumps`, timestamped, salted with the inbox),
so the token of one widget is refused by every other widget, and it expires. The server never
takes a conversation or customer id from a visitor: everything a visitor can see follows from
the token, so guessing ids gives nothing.

Identity verification (logged-in users of the host site): the host's back end computes
`HMAC-SHA256(widget secret, user id)` (or of the email when it has no user id) as hex and puts
it in the page with the id. We recompute it and compare in constant time. A verified session's
token carries the user id and a fingerprint of the secret, so rotating the secret ends them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.core import signing

from ascolto.connectors.webchat.config import token_max_age
from ascolto.core.errors import DomainError

SALT = "ascolto.webchat.visitor"
MAX_USER_ID = 200


class InvalidToken(DomainError):
    """The token is forged, expired, of another widget, or its secret was rotated."""

    status = 401
    code = "invalid_token"


class IdentityRejected(DomainError):
    """A host-site user whose identity hash does not verify."""

    status = 403
    code = "identity_rejected"


@dataclass(frozen=True)
class VisitorSession:
    inbox_id: int
    workspace_id: int
    visitor_id: str
    user_id: str = ""
    email: str = ""

    @property
    def verified(self) -> bool:
        return bool(self.user_id or self.email)


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def user_hash(secret: str, value: str) -> str:
    """What the host site's back end computes for a user: hex HMAC-SHA256 of the user id."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(f"{SALT}:{secret}".encode()).hexdigest()[:16]


def _salt(inbox_id: int) -> str:
    return f"{SALT}:{inbox_id}"


def issue_token(session: VisitorSession, *, secret: str) -> str:
    payload: dict[str, object] = {
        "i": session.inbox_id,
        "w": session.workspace_id,
        "v": session.visitor_id,
    }
    if session.verified:
        payload.update(u=session.user_id, e=session.email, k=_fingerprint(secret))
    return signing.dumps(payload, salt=_salt(session.inbox_id))


def read_token(token: str, *, inbox_id: int, workspace_id: int, secret: str) -> VisitorSession:
    """The session a token was issued for. Raises InvalidToken."""
    if not isinstance(token, str) or not token or len(token) > 1000:
        raise InvalidToken("No valid visitor token.")
    try:
        data = signing.loads(token, salt=_salt(inbox_id), max_age=token_max_age())
    except signing.SignatureExpired:
        raise InvalidToken("The visitor token has expired.") from None
    except signing.BadSignature:
        raise InvalidToken("The visitor token is not valid for this widget.") from None
    if not isinstance(data, dict) or data.get("i") != inbox_id or data.get("w") != workspace_id:
        raise InvalidToken("The visitor token is not valid for this widget.")
    visitor_id = data.get("v")
    if not isinstance(visitor_id, str) or not visitor_id:
        raise InvalidToken("The visitor token is not valid for this widget.")
    user_id, email = str(data.get("u") or ""), str(data.get("e") or "")
    if (user_id or email) and (
        not secret or not hmac.compare_digest(str(data.get("k") or ""), _fingerprint(secret))
    ):
        raise InvalidToken("The identity of this visitor must be verified again.")
    return VisitorSession(inbox_id, workspace_id, visitor_id, user_id, email)


def verify_user(*, secret: str, user_id: str, email: str, user_hash_hex: str) -> tuple[str, str]:
    """Check a host-site user's hash; returns the verified (user_id, email).

    The hash covers the user id when there is one, else the email (lower-cased). An email sent
    beside a user id is *not* verified and is not returned. Raises IdentityRejected.
    """
    user_id = (user_id or "").strip()
    email = (email or "").strip().lower()
    if not secret:
        raise IdentityRejected("Identity verification is not set up for this widget.")
    if not (user_id or email) or len(user_id) > MAX_USER_ID or len(email) > 254:
        raise IdentityRejected("The user's identity is missing or too long.")
    expected = user_hash(secret, user_id or email)
    if not isinstance(user_hash_hex, str) or not hmac.compare_digest(
        expected.encode(), user_hash_hex.strip().lower().encode()
    ):
        raise IdentityRejected("The user's identity could not be verified.")
    return (user_id, "") if user_id else ("", email)
