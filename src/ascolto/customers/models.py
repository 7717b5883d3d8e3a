"""Customer 360: customers, identities, organizations, orders, consent, timeline, merges."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import WorkspaceScopedModel, workspace_key


class ValueTier(models.TextChoices):
    PLATINUM = "platinum", _("Platinum")
    GOLD = "gold", _("Gold")
    SILVER = "silver", _("Silver")
    BRONZE = "bronze", _("Bronze")
    NONE = "", _("Unranked")


class Organization(WorkspaceScopedModel):
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=200, blank=True, default="")
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                name="organization_external_id_unique",
                condition=models.Q(external_id__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return self.name


class AttributeDefinition(WorkspaceScopedModel):
    """A typed custom attribute that customers of a workspace may carry."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        BOOLEAN = "boolean", _("Yes / no")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(_("key"), max_length=60)
    label = models.CharField(_("label"), max_length=120)
    type = models.CharField(_("type"), max_length=10, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(_("choices"), default=list, blank=True)

    class Meta:
        verbose_name = _("attribute definition")
        verbose_name_plural = _("attribute definitions")
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="attribute_key_unique")
        ]

    def __str__(self) -> str:
        return self.label


class Customer(WorkspaceScopedModel):
    workspace = workspace_key(db_index=False)  # customer_ws_id_idx starts with it
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    locale = models.CharField(_("language"), max_length=8, blank=True, default="")
    timezone = models.CharField(_("time zone"), max_length=64, blank=True, default="")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    value_tier = models.CharField(
        _("value tier"), max_length=10, choices=ValueTier.choices, blank=True, default=""
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )
    # Denormalised for the list and tiers: kept current by the order services.
    lifetime_spend = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    orders_count = models.PositiveIntegerField(default=0)
    last_order_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                name="customer_external_id_unique",
                condition=models.Q(external_id__isnull=False),
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "-id"], name="customer_ws_id_idx"),
            models.Index(fields=["workspace", "value_tier", "-id"], name="customer_ws_tier_idx"),
            models.Index(fields=["workspace", "name"], name="customer_ws_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name or f"#{self.pk}"

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class Identity(WorkspaceScopedModel):
    """A handle by which a customer reaches us, unique per workspace and kind, normalised."""

    workspace = workspace_key(db_index=False)  # identity_unique_per_kind starts with it

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        WHATSAPP = "whatsapp", _("WhatsApp")
        MESSENGER = "messenger", _("Messenger")
        INSTAGRAM = "instagram", _("Instagram")
        WEB = "web", _("Web visitor")
        EXTERNAL = "external", _("External system")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=254)
    verified = models.BooleanField(_("verified"), default=False)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "kind", "value"], name="identity_unique_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Order(WorkspaceScopedModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        DELAYED = "delayed", _("Delayed")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")
        RETURNED = "returned", _("Returned")
        REFUNDED = "refunded", _("Refunded")

    workspace = workspace_key(db_index=False)  # order_external_id_unique starts with it
    # order_customer_time_idx starts with the customer.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="orders", db_index=False
    )
    external_id = models.CharField(_("external id"), max_length=100)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    placed_at = models.DateTimeField(_("placed at"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    promised_at = models.DateTimeField(_("promised delivery"), null=True, blank=True)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"], name="order_external_id_unique"
            )
        ]
        indexes = [
            models.Index(fields=["customer", "-placed_at"], name="order_customer_time_idx"),
            models.Index(fields=["workspace", "-placed_at", "-id"], name="order_ws_time_idx"),
        ]

    def __str__(self) -> str:
        return self.external_id


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(_("SKU"), max_length=100, blank=True, default="")
    name = models.CharField(_("name"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def line_total(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"))


class ConsentPurpose(models.TextChoices):
    SERVICE = "service", _("Service messages")
    MARKETING = "marketing", _("Marketing")
    SURVEYS = "surveys", _("Surveys")


class ConsentChannel(models.TextChoices):
    ANY = "any", _("Any channel")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MESSENGER = "messenger", _("Messenger")
    PHONE = "phone", _("Phone")
    WEB = "web", _("Web")


class Consent(WorkspaceScopedModel):
    """The current consent for one purpose on one channel: one row, so the state is one query."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=12, choices=ConsentPurpose.choices)
    channel = models.CharField(_("channel"), max_length=12, choices=ConsentChannel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=120, blank=True, default="")
    recorded_at = models.DateTimeField(_("recorded at"), default=now)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["purpose", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "purpose", "channel"], name="consent_current_unique"
            )
        ]

    def __str__(self) -> str:
        state = "granted" if self.granted else "revoked"
        return f"{self.purpose}/{self.channel}: {state}"


class ConsentChange(WorkspaceScopedModel):
    """Every grant and revocation ever recorded: the consent history, append-only."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_changes")
    purpose = models.CharField(_("purpose"), max_length=12, choices=ConsentPurpose.choices)
    channel = models.CharField(_("channel"), max_length=12, choices=ConsentChannel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=120, blank=True, default="")
    recorded_at = models.DateTimeField(_("recorded at"), default=now)
    actor_label = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-recorded_at"], name="consent_change_time_idx")
        ]


class Activity(WorkspaceScopedModel):
    """One entry on a customer's timeline: a message, an order, a survey answer, a note..."""

    workspace = workspace_key(db_index=False)  # activity_ws_idx starts with it

    class Kind(models.TextChoices):
        CUSTOMER_CREATED = "customer.created", _("Customer created")
        CUSTOMER_UPDATED = "customer.updated", _("Profile updated")
        CUSTOMER_MERGED = "customer.merged", _("Profiles merged")
        IDENTITY_ADDED = "identity.added", _("Identity added")
        ORDER_PLACED = "order.placed", _("Order placed")
        ORDER_UPDATED = "order.updated", _("Order updated")
        CONSENT_CHANGED = "consent.changed", _("Consent changed")
        NOTE = "note", _("Note")
        MESSAGE = "message", _("Message")
        CONVERSATION = "conversation", _("Conversation")
        SURVEY_RESPONSE = "survey.response", _("Survey answer")
        EXTERNAL_EVENT = "event", _("Event")

    # activity_timeline_idx starts with the customer.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("occurred at"), default=now)
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("details"), blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    source_type = models.CharField(max_length=40, blank=True, default="")
    source_id = models.CharField(max_length=64, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="activity_timeline_idx"),
            models.Index(fields=["workspace", "-occurred_at", "-id"], name="activity_ws_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class CustomerMerge(WorkspaceScopedModel):
    """The record of two profiles becoming one, with a snapshot of the profile that was absorbed."""

    primary = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges")
    merged_customer_id = models.BigIntegerField()
    snapshot = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    actor_label = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        ordering = ["-created_at"]
