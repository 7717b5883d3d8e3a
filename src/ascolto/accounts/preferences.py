"""Writes for a user's own preferences (interface language)."""

from __future__ import annotations

from django.conf import settings

from ascolto.accounts.models import User
from ascolto.core.errors import ValidationFailed


def supported_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def user_set_locale(*, user: User, locale: str) -> User:
    """Save the language the user reads the interface in; "" means "follow the browser".

    Raises ValidationFailed for a language Ascolto does not ship.
    """
    if locale and locale not in supported_languages():
        raise ValidationFailed(
            f"Unknown language {locale!r}.",
            field_errors={"locale": [f"Choose one of: {', '.join(supported_languages())}."]},
        )
    if user.locale != locale:
        user.locale = locale
        user.save(update_fields=["locale"])
    return user
