"""Typed helpers that read configuration from environment variables.

Every setting Ascolto reads comes through these helpers so that a wrong value fails at start-up
with a message naming the variable to fix, instead of surfacing later as an obscure error.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


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


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number (got {raw!r}).") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


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
    return path


def secret_key(*, production: bool, directory: Path) -> str:
    """Return SECRET_KEY from the environment, or a key generated once and kept in the data dir.

    In production the key must come from the environment: a key that silently changes with the
    data directory would log everybody out and invalidate every signed link.
    """
    key = env_str("SECRET_KEY")
    if key:
        if production and len(key) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters in production.")
        return key
    if production:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when ASCOLTO_ENV=production. Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    key_file = directory / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key
