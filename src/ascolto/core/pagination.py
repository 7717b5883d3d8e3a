"""Keyset pagination cursors: opaque, URL-safe, and rejected with a clear error when tampered."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from ascolto.core.errors import ValidationFailed


def encode_cursor(*values: Any) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, types: tuple[type, ...]) -> tuple[Any, ...]:
    """Decode a cursor made by `encode_cursor` into values of the given types."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong length")
        out: list[Any] = []
        for value, kind in zip(values, types, strict=True):
            if kind is datetime:
                out.append(datetime.fromisoformat(value))
            elif kind is int:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError("not an integer")
                out.append(value)
            else:
                out.append(kind(value))
        return tuple(out)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "The pagination cursor is not valid; use the `next` value of a previous page.",
            field_errors={"cursor": ["Not a valid cursor."]},
        ) from exc
