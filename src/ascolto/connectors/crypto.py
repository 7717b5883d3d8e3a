"""Credentials of messaging connectors, encrypted at rest with Fernet (cryptography).

The key is derived from Django's SECRET_KEY with HKDF-SHA256, so there is no second secret to
keep. Rotation: put the old key in SECRET_KEY_FALLBACKS and the new one in SECRET_KEY; values
encrypted under a fallback still decrypt, and `reencrypt` (run by `credentials_rotate` in each
connector's services) rewrites them under the current key, after which the fallback can go.
Plaintext is never logged: errors name the field, never its value.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

INFO = b"ascolto.connectors.credentials.v1"


class CredentialUnreadable(Exception):
    """A stored credential does not decrypt under SECRET_KEY or any of its fallbacks."""


@functools.cache
def _fernet_for(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    secrets = [str(settings.SECRET_KEY), *map(str, getattr(settings, "SECRET_KEY_FALLBACKS", []))]
    return MultiFernet([_fernet_for(s) for s in secrets])


def encrypt(plaintext: str) -> str:
    """The ciphertext (a Fernet token) of `plaintext`; "" stays "" (no credential set)."""
    if not plaintext:
        return ""
    return _keys().encrypt(plaintext.encode()).decode("ascii")


def decrypt(ciphertext: str, *, field: str = "credential") -> str:
    if not ciphertext:
        return ""
    try:
        return _keys().decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise CredentialUnreadable(
            f"The stored {field} cannot be decrypted: SECRET_KEY changed without the old key in "
            "SECRET_KEY_FALLBACKS. Put it back there, or enter the credential again."
        ) from None


def reencrypt(ciphertext: str) -> str:
    """The same plaintext under the current key (for rotation)."""
    if not ciphertext:
        return ""
    return _keys().rotate(ciphertext.encode("ascii")).decode("ascii")


class EncryptedAttribute:
    """A plaintext attribute over a model field holding its ciphertext:
    `auth_token = EncryptedAttribute("auth_token_encrypted")` reads and writes plaintext, the
    database only ever sees the Fernet token."""

    def __init__(self, field_name: str) -> None:
        self.field_name = field_name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> str:
        if instance is None:
            return self  # type: ignore[return-value]
        return decrypt(str(getattr(instance, self.field_name)), field=self.name)

    def __set__(self, instance: object, value: str) -> None:
        setattr(instance, self.field_name, encrypt(value))
