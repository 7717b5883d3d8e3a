"""Typed helpers that read configuration from environment variables.

Every setting Ascolto reads comes through these helpers so that a wrong value fails at start-up
with a message naming the variable to fix, instead of surfacing later as an obscure error.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
MIN_PRODUCTION_KEY_LENGTH = 32


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (got {raw!r}).")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number (got {raw!r}).") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else f" from {minimum}"
        high = "" if maximum is None else f" to {maximum}"
        raise ImproperlyConfigured(f"{name} must be a number{low}{high} (got {raw!r}).")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower()
    if value not in choices:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(choices)} (got {os.environ.get(name)!r})."
        )
    return value


def env_public_url(name: str, default: str) -> str:
    """An origin such as https://cx.example.com (scheme and host, optionally a port and a path
    prefix), without a trailing slash: the base of every link that leaves the web page."""
    raw = env_str(name, default)
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"{name} must be the http(s) address customers reach Ascolto at, "
            f"e.g. {name}=https://cx.example.com (got {raw!r})."
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} has a port that is not a number, e.g. {name}=https://cx.example.com:8443 "
            f"(got {raw!r})."
        ) from None
    return raw.rstrip("/")


def data_dir() -> Path:
    """The directory that holds the embedded database, job queue, uploads and generated secret."""
    path = Path(env_str("ASCOLTO_DATA_DIR") or Path.home() / ".ascolto").expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"ASCOLTO_DATA_DIR={str(path)!r} cannot be created ({exc.strerror}); "
            "set ASCOLTO_DATA_DIR to a writable directory."
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ImproperlyConfigured(
            f"ASCOLTO_DATA_DIR={str(path)!r} is not writable; "
            "set ASCOLTO_DATA_DIR to a directory this user can write to."
        )
    return path


def secret_key(*, production: bool, directory: Path) -> str:
    """Return SECRET_KEY from the environment, or a key generated once and kept in the data dir.

    In production the key must come from the environment: a key that silently changes with the
    data directory would log everybody out and invalidate every signed link.

    The generated key is created with O_EXCL, so processes starting together (two `ascolto web`
    sharing a data dir) agree on one key instead of each writing its own.
    """
    key = env_str("SECRET_KEY")
    if key:
        if production and len(key) < MIN_PRODUCTION_KEY_LENGTH:
            raise ImproperlyConfigured(
                f"SECRET_KEY must be at least {MIN_PRODUCTION_KEY_LENGTH} characters when "
                "ASCOLTO_ENV=production. Generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
            )
        return key
    if production:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when ASCOLTO_ENV=production. Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    key_file = directory / SECRET_KEY_FILE
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(key_file)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"Cannot write {str(key_file)!r} ({exc.strerror}); set SECRET_KEY or make "
            "ASCOLTO_DATA_DIR writable."
        ) from exc
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _read_key(key_file: Path) -> str:
    # Another process may have created the file a moment ago and not written it yet.
    for _ in range(50):
        key = key_file.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise ImproperlyConfigured(f"{str(key_file)!r} is empty; delete it or set SECRET_KEY.")


# Messages a channel (one socket) may hold before the layer drops what is sent to it: Channels'
# group_send drops silently when a channel is full (the default capacity is 100). An agent's
# console receives every event of the inboxes it watches, so a console that falls a second or
# two behind a busy workspace would lose pushes; the margin costs memory only while it lags.
CHANNEL_CAPACITY = 2_000


def in_memory_channel_layer() -> dict[str, Any]:
    """The Channels layer of the embedded configuration (one process)."""
    return {
        "BACKEND": "channels.layers.InMemoryChannelLayer",
        "CONFIG": {"capacity": CHANNEL_CAPACITY},
    }


# Connections one process' channel layer may open to Redis at once (Redis serves 10,000
# clients by default).
REDIS_LAYER_CONNECTIONS = 1_000


def redis_channel_layer(url: str, prefix: str) -> dict[str, Any]:
    """The Channels layer on Redis shared by every web and worker process.

    channels_redis waits for messages with BZPOPMIN for up to 5 seconds, and redis-py (8+) gives
    every read a 5-second socket timeout by default: an idle websocket would then fail with
    "Timeout reading". The socket timeout is set well above the blocking wait.

    redis-py refuses a command with MaxConnectionsError once all of a pool's connections are in
    use (100 by default), and channels_redis has one pool per process: a web process holding
    thousands of sockets gets there in a burst (a wave of messages, each pushed to two groups,
    while Redis answers slowly; sockets joining their groups after a deploy), and the push or
    join fails. The pool may open up to REDIS_LAYER_CONNECTIONS.
    """
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": url,
                    "socket_timeout": 30,
                    "socket_connect_timeout": 5,
                    "max_connections": REDIS_LAYER_CONNECTIONS,
                }
            ],
            "prefix": prefix,
            "capacity": CHANNEL_CAPACITY,
        },
    }
