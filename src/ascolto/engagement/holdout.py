"""Hold-out groups: a share of a rule's or campaign's customers who get nothing, to measure what
the messages change. Assignment is a hash of (kind, id, customer), so every rerun agrees."""

from __future__ import annotations

import hashlib

HELD_OUT_REASON = "Held out."
BUCKETS = 10_000


def is_held_out(*, kind: str, owner_id: int, customer_id: int, percent: int) -> bool:
    """True when the customer falls in the `percent` hold-out of the rule or campaign."""
    if percent <= 0:
        return False
    if percent >= 100:
        return True
    digest = hashlib.sha256(f"{kind}:{owner_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS < percent * (BUCKETS // 100)
