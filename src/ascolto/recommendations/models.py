"""Stored results of the nightly recompute: pairs of items bought together, and item cycles.

Recomputed as a whole per workspace (see services.affinities_recompute); read by the selectors.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import WorkspaceScopedModel

KEY_LENGTH = 320


class ItemAffinity(WorkspaceScopedModel):
    """Customers who bought `item` also bought `other` in `confidence` of `item`'s orders."""

    item_key = models.CharField(max_length=KEY_LENGTH)
    item_name = models.CharField(max_length=300)
    other_key = models.CharField(max_length=KEY_LENGTH)
    other_name = models.CharField(max_length=300)
    other_sku = models.CharField(max_length=100, blank=True, default="")
    together = models.PositiveIntegerField(_("orders together"))
    confidence = models.FloatField(_("confidence"))
    lift = models.FloatField(_("lift"))

    class Meta:
        verbose_name = _("item affinity")
        verbose_name_plural = _("item affinities")
        indexes = [models.Index(fields=["workspace", "item_key"], name="rec_affinity_item_idx")]

    def __str__(self) -> str:
        return f"{self.item_name} → {self.other_name} ({self.confidence:.0%})"


class ItemCycle(WorkspaceScopedModel):
    """The median days between repeat purchases of an item, pooled over its repeat buyers."""

    item_key = models.CharField(max_length=KEY_LENGTH)
    name = models.CharField(max_length=300)
    sku = models.CharField(max_length=100, blank=True, default="")
    median_days = models.FloatField(_("median days between purchases"))
    gaps = models.PositiveIntegerField(_("repeat purchases measured"))

    class Meta:
        verbose_name = _("item cycle")
        verbose_name_plural = _("item cycles")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "item_key"], name="rec_cycle_item_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name}: every {self.median_days:g} days"
