"""Admin for recommendations, for diagnosis: pairs and rhythms are recomputed nightly."""

from __future__ import annotations

from ascolto.core.admin import register_read_only
from ascolto.recommendations.models import (
    ItemAffinity,
    ItemCycle,
)

register_read_only(ItemAffinity, ItemCycle)
