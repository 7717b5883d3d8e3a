from __future__ import annotations

# The API clients of tests/api (token-authenticated members of a workspace), shared here.
from tests.api.conftest import make_token, member, other_api  # noqa: F401
