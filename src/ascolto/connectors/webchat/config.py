"""The widget settings of a webchat Inbox, kept in `Inbox.config["widget"]`, and origin checks.

    {"widget": {"key": "<public key of the embed snippet>",
                "secret": "<identity verification secret: 64 hex digits>",
                "allowed_origins": ["https://shop.example.com", "https://*.example.org"],
                "greeting": {"en": "Hi! How can we help?", "it": "...", "he": "..."},
                "offline_message": {"en": "...", ...},
                "title": "Support", "color": "#0f766e",
                "identity_required": false}}

The key is public (it is in the host page); the secret never leaves the server and the host
site's back end. Texts are a string or a {locale: text} map. Limits that are the same for every
workspace come from Django settings (`ASCOLTO_WEBCHAT_*`, defaults below).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

COLOR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_COLOR = "#0f766e"
LOCALES = ("en", "it", "he")

# Files a visitor may send: the type they claim must be one of these and the content must look
# like it (see services.sniff_type).
UPLOAD_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
)


def setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def upload_max_bytes() -> int:
    return setting("ASCOLTO_WEBCHAT_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)


def token_max_age() -> int:
    """Seconds a visitor token stays valid: a returning visitor within it sees their history."""
    return setting("ASCOLTO_WEBCHAT_TOKEN_MAX_AGE", 365 * 24 * 3600)


MAX_TEXT = 5000  # characters in one visitor message


@dataclass(frozen=True)
class WidgetSettings:
    key: str = ""
    secret: str = ""
    allowed_origins: tuple[str, ...] = ()
    greeting: dict[str, str] = field(default_factory=dict)
    offline_message: dict[str, str] = field(default_factory=dict)
    title: str = ""
    color: str = DEFAULT_COLOR
    identity_required: bool = False

    def text(self, name: str, locale: str) -> str:
        """A configured text in the visitor's language, else the first one configured."""
        texts: dict[str, str] = getattr(self, name)
        return texts.get(locale) or texts.get("en") or next(iter(texts.values()), "")


def _texts(raw: Any) -> dict[str, str]:
    if isinstance(raw, str):
        return {"en": raw} if raw.strip() else {}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items() if isinstance(v, str) and v.strip()}
    return {}


def widget_settings(config: dict[str, Any] | None) -> WidgetSettings:
    """Read the settings from an Inbox's config, tolerating missing or malformed values."""
    raw = (config or {}).get("widget")
    if not isinstance(raw, dict):
        return WidgetSettings()
    origins = raw.get("allowed_origins")
    color = raw.get("color")
    return WidgetSettings(
        key=str(raw.get("key") or ""),
        secret=str(raw.get("secret") or ""),
        allowed_origins=tuple(str(o) for o in origins) if isinstance(origins, list) else (),
        greeting=_texts(raw.get("greeting")),
        offline_message=_texts(raw.get("offline_message")),
        title=str(raw.get("title") or "")[:80],
        color=color if isinstance(color, str) and COLOR.fullmatch(color) else DEFAULT_COLOR,
        identity_required=raw.get("identity_required") is True,
    )


def normalize_origin(value: str) -> str | None:
    """`https://Shop.Example.com/` -> `https://shop.example.com`; a `*.` host is a wildcard.
    None when it is not an http(s) origin (a path, a query or user info make it invalid)."""
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    bare = host.removeprefix("*.")
    if "*" in bare or not re.fullmatch(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]", bare):
        return None
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme.lower()}://{netloc}"


def origin_allowed(*, origin: str, allowed: tuple[str, ...], server_host: str = "") -> bool:
    """Whether a page at `origin` may use the widget.

    Allowed: an exact configured origin, a subdomain of a `https://*.example.com` entry (not the
    bare domain), and Ascolto's own pages (origin host == the request's Host, itself one of
    ALLOWED_HOSTS), which is where the demo page lives. A missing origin is refused: browsers
    always send one on websockets and cross-site requests.
    """
    normalized = normalize_origin(origin) if origin else None
    if normalized is None:
        return False
    if normalized in allowed:
        return True
    scheme, _, netloc = normalized.partition("://")
    for entry in allowed:
        entry_scheme, _, entry_netloc = entry.partition("://")
        if entry_scheme != scheme or not entry_netloc.startswith("*."):
            continue
        if netloc.endswith(entry_netloc[1:]):
            return True
    if server_host:
        host, _port = split_domain_port(server_host)
        if netloc == server_host.lower() and host and validate_host(host, settings.ALLOWED_HOSTS):
            return True
    return False
