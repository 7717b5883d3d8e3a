"""Who performs a change: a person, an API token acting for a person, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ascolto.accounts.models import User


@dataclass(frozen=True, slots=True)
class Actor:
    user: User | None = None
    token_id: int | None = None
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(label=label)

    @classmethod
    def for_user(cls, user: User, *, token_id: int | None = None) -> Actor:
        return cls(user=user, token_id=token_id, label=user.get_username())

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    def describe(self) -> str:
        if self.token_id is not None:
            return f"{self.label} (API token #{self.token_id})"
        return self.label
