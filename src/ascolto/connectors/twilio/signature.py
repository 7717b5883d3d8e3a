"""Twilio's request signature (X-Twilio-Signature), as its RequestValidator computes it.

The signature is base64(HMAC-SHA1(auth token, URL + each POST parameter name and value, sorted
by name)). Twilio signs the URL it was configured with; behind a proxy the port may be there or
not, so both forms are tried, as the official validator does. Implemented here so the runtime
does not carry Twilio's SDK; the tests sign requests with the SDK's RequestValidator.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

HEADER = "X-Twilio-Signature"


def compute(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    with_port = parts._replace(netloc=f"{host}:{parts.port or default_port}")
    without_port = parts._replace(netloc=host)
    return list(dict.fromkeys([url, urlunsplit(without_port), urlunsplit(with_port)]))


def is_valid(
    *, auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str
) -> bool:
    if not auth_token or not signature:
        return False
    items = list(params)
    return any(
        hmac.compare_digest(compute(auth_token, candidate, items), signature)
        for candidate in _variants(url)
    )
