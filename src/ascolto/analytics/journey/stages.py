"""Journey stages and the one place that maps touchpoints and events to them.

Default mapping (docs/metrics.md, Journey):
- survey answers by touchpoint: website -> discover, billing -> buy, delivery -> deliver,
  product -> use, support -> support;
- orders: an order placed -> buy; an order shipped, delayed, delivered or returned -> deliver;
- conversations -> support, and also the stage their intent (else a tag) names by keyword:
  "deliver", "shipping", "tracking" ... -> deliver; "billing", "refund", "payment" ... -> buy;
  "product", "broken", "setup" ... -> use; "presale", "pricing", "stock" ... -> discover.

A workspace with other words passes its own `StageMap` (keywords are matched as substrings of
the lower-case intent or tag name, first stage in STAGES order wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

DISCOVER, BUY, DELIVER, USE, SUPPORT = "discover", "buy", "deliver", "use", "support"
STAGES: tuple[str, ...] = (DISCOVER, BUY, DELIVER, USE, SUPPORT)
STAGE_LABELS: dict[str, str | Promise] = {
    DISCOVER: _("Discover"),
    BUY: _("Buy"),
    DELIVER: _("Deliver"),
    USE: _("Use"),
    SUPPORT: _("Support"),
}

DEFAULT_TOUCHPOINTS: dict[str, str] = {
    "website": DISCOVER,
    "billing": BUY,
    "delivery": DELIVER,
    "product": USE,
    "support": SUPPORT,
}
DEFAULT_KEYWORDS: dict[str, tuple[str, ...]] = {
    DISCOVER: ("presale", "pre-sale", "pricing", "price", "stock", "availability", "website"),
    BUY: ("billing", "invoice", "payment", "refund", "charge", "checkout", "coupon"),
    DELIVER: ("deliver", "shipping", "shipment", "tracking", "courier", "parcel", "late"),
    USE: ("product", "broken", "defect", "damaged", "setup", "how-to", "warranty", "bug"),
    SUPPORT: (),
}


@dataclass(frozen=True)
class StageMap:
    """Survey touchpoint -> stage, and per stage the keywords that put a conversation's intent
    or tag in it."""

    touchpoints: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TOUCHPOINTS))
    keywords: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_KEYWORDS))

    def for_touchpoint(self, touchpoint: str) -> str | None:
        return self.touchpoints.get(touchpoint)

    def for_name(self, name: str) -> str | None:
        """The stage an intent or tag name belongs to, or None."""
        text = name.lower()
        for stage in STAGES:
            if any(word in text for word in self.keywords.get(stage, ())):
                return stage
        return None

    def for_conversation(self, intent: str, tags: list[str]) -> set[str]:
        """Support, plus the stage of the intent (else of the first tag that has one)."""
        stages = {SUPPORT}
        for name in [intent, *sorted(tags)]:
            stage = self.for_name(name) if name else None
            if stage is not None:
                stages.add(stage)
                break
        return stages


DEFAULT_MAP = StageMap()
