"""Signed single-use survey links.

A token is `django.core.signing` of {"i": invitation id, "n": random nonce} with a salt of its
own, so a token signed for anything else (a session, a password reset) never verifies here. The
invitation stores only SHA-256 digests of the nonces it issued: a token must carry both a valid
signature (the server's SECRET_KEY) and a nonce the invitation issued, so neither a leaked key nor
a read of the database alone yields a working link. "Single use" is enforced by the response:
once it is completed the link only says thank you.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.core import signing

SALT = "ascolto.surveys.invitation"
MAX_TOKEN_LENGTH = 300
# Invitation + reminder, with room for a few links issued by hand.
MAX_DIGESTS = 5


@dataclass(frozen=True, slots=True)
class ParsedToken:
    invitation_id: int
    nonce: str


def nonce_digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def make_token(invitation_id: int) -> tuple[str, str]:
    """A new token for the invitation: (token, digest to store)."""
    nonce = secrets.token_urlsafe(16)
    token = signing.dumps({"i": invitation_id, "n": nonce}, salt=SALT, compress=False)
    return token, nonce_digest(nonce)


def parse_token(token: str) -> ParsedToken | None:
    """The invitation id and nonce of a well-signed token, else None (tampered, foreign, junk)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        data = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    invitation_id, nonce = data.get("i"), data.get("n")
    if not isinstance(invitation_id, int) or isinstance(invitation_id, bool) or invitation_id < 1:
        return None
    if not isinstance(nonce, str) or not nonce:
        return None
    return ParsedToken(invitation_id=invitation_id, nonce=nonce)


def digest_matches(nonce: str, digests: list[str]) -> bool:
    """Whether the nonce is one the invitation issued (constant-time per digest)."""
    candidate = nonce_digest(nonce)
    return any(hmac.compare_digest(candidate, str(stored)) for stored in digests)
