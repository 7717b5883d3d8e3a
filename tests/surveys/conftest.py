from __future__ import annotations

from typing import Any

import pytest

# The API clients of tests/api (token-authenticated members of a workspace), shared here.
from tests.api.conftest import api, make_token, member, other_api  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Agents are created in many of these tests; the hasher plays no part in what they check.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # The public pages count requests per IP in the cache; each test starts with a clean count.
    from django.core.cache import cache

    cache.clear()
