"""Absolute links for text that leaves the web page: emails, SMS, WhatsApp, bot answers.

A site-relative link (/help/...) only works inside a browser already on Ascolto, so everything
sent to a customer is built on ASCOLTO_PUBLIC_URL (config/settings.py; embedded default
http://127.0.0.1:8000).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain"})


def public_base() -> str:
    """The configured origin without a trailing slash."""
    return str(settings.ASCOLTO_PUBLIC_URL).rstrip("/")


def absolute_url(path: str) -> str:
    """`path` ("/help/acme/en/a/returns/") on the public address; an absolute URL unchanged."""
    if path.startswith(("http://", "https://")):
        return path
    if not path.startswith("/"):
        path = "/" + path
    return public_base() + path


def absolute_reverse(viewname: str, *args: object, **kwargs: object) -> str:
    """`reverse()` on the public address."""
    return absolute_url(reverse(viewname, args=list(args) or None, kwargs=dict(kwargs) or None))


def reachable_from_outside() -> bool:
    """Whether the public address can be reached by a provider (Twilio status callbacks): not a
    loopback address or localhost, as in the embedded default."""
    host = (urlsplit(public_base()).hostname or "").lower()
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True
