# ruff: noqa: RUF001  -- Hebrew names and places are meant, not look-alike Latin letters.
"""Deterministic, multilingual demo data: a small Italian shop with customers in Italy, Israel,
the UK and the US.

Each customer is generated from its own random stream (seed and index), so the same seed gives
the same data, a run can be resumed, and `--customers 1000000` needs no more memory than 300.
Dates are spread over the two years before today (UTC). Spending follows a Pareto-like law:
about a fifth of the customers make about four fifths of the revenue.

Small loads go through the services (every customer gets a timeline with orders, consent
changes and notes); large ones use the import's set-based path. Loading again adds only the
customers that are missing, so nothing is duplicated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ascolto.accounts.models import Membership, Role, Team, User
from ascolto.accounts.services import membership_set, team_create, workspace_create
from ascolto.core.actors import Actor
from ascolto.core.models import Workspace
from ascolto.customers import services
from ascolto.customers.importer import (
    ErrorReport,
    Record,
    attribute_specs,
    import_records,
    validate_chunk,
)
from ascolto.customers.importer_rows import RowError, RowValidator
from ascolto.customers.importer_sql import SqlWriter
from ascolto.customers.models import (
    AttributeDefinition,
    Consent,
    ConsentChange,
    Customer,
    Identity,
    Order,
    Organization,
)
from ascolto.customers.services.orders import NOT_SPENT

Progress = Callable[[int, int], None]

PREFIX = "demo-"
SERVICE_PATH_MAX = 2_000  # above this many customers, the bulk path
CHUNK = 5_000
PARETO_ALPHA = 1.3
MAX_ORDERS = 150
CURRENCY = "EUR"

# (display name, Latin transliteration for the email address)
Name = tuple[str, str]


@dataclass(frozen=True)
class Country:
    code: str
    locale: str
    timezone: str
    weight: float
    first: tuple[Name, ...]
    last: tuple[Name, ...]
    cities: tuple[tuple[str, str], ...]  # (city, postcode prefix)
    streets: tuple[str, ...]
    stores: tuple[str, ...]
    domains: tuple[str, ...]

    def phone(self, rng: random.Random, index: int) -> str:
        """A mobile number in the country's usual written form; unique per index."""
        digits = (index * 7_919 + 1_234_567) % 10_000_000
        d = f"{digits:07d}"
        if self.code == "IT":
            return f"+39 3{rng.choice('2456789')}{rng.randrange(10)} {d[:3]} {d[3:]}"
        if self.code == "IL":
            return f"+972 5{rng.choice('02348')}-{d[:3]}-{d[3:]}"
        if self.code == "GB":
            return f"+44 7{rng.choice('45789')}{rng.randrange(10)}{d[0]} {d[1:]}"
        return f"+1 ({rng.choice(['212', '617', '312', '415', '512'])}) {d[:3]}-{d[3:]}"

    def address(self, rng: random.Random, city: tuple[str, str]) -> str:
        number = rng.randrange(1, 180)
        street = rng.choice(self.streets)
        postcode = f"{city[1]}{rng.randrange(10, 99)}"
        if self.code == "IT":
            return f"{street} {number}, {postcode} {city[0]}"
        if self.code == "IL":
            return f"{street} {number}, {city[0]} {postcode}"
        if self.code == "GB":
            return f"{number} {street}, {city[0]} {postcode}"
        return f"{number} {street}, {city[0]}, {postcode}"


def _n(text: str) -> tuple[Name, ...]:
    """Names from "Giulia, De Luca|deluca, ...": a display name and, after |, its Latin form."""
    pairs = [item.strip().split("|") for item in text.split(",")]
    return tuple((pair[0], pair[-1].replace(" ", "")) for pair in pairs)


COUNTRIES = (
    Country(
        "IT",
        "it",
        "Europe/Rome",
        0.5,
        _n(
            "Giulia, Marco, Francesca, Alessandro, Chiara, Luca, Sofia, Matteo, Elena, "
            "Lorenzo, Martina, Davide, Valentina, Simone, Federica, Giorgio, Beatrice, "
            "Andrea, Paola, Stefano"
        ),
        _n(
            "Rossi, Russo, Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, Marino, "
            "Greco, Bruno, Gallo, Conti, De Luca|deluca, Mancini, Costa, Giordano, Rizzo, "
            "Lombardi, Moretti"
        ),
        (
            ("Milano", "201"),
            ("Roma", "001"),
            ("Napoli", "801"),
            ("Torino", "101"),
            ("Bologna", "401"),
            ("Firenze", "501"),
            ("Palermo", "901"),
            ("Genova", "161"),
            ("Bari", "701"),
            ("Verona", "371"),
        ),
        (
            "Via Roma",
            "Via Garibaldi",
            "Corso Italia",
            "Via Dante",
            "Via Mazzini",
            "Via Verdi",
            "Viale Europa",
            "Via Cavour",
        ),
        ("Milano Brera", "Roma Trastevere", "Bologna Centro", "Online"),
        ("esempio.example", "posta.example", "example.com"),
    ),
    Country(
        "IL",
        "he",
        "Asia/Jerusalem",
        0.25,
        _n(
            "נועה|noa, תמר|tamar, יוסי|yossi, דניאל|daniel, מיכל|michal, אורי|ori, "
            "שירה|shira, איתי|itai, יעל|yael, עומר|omer, רונית|ronit, אבי|avi, מאיה|maya, "
            "איתן|eitan, הילה|hila, גיל|gil"
        ),
        _n(
            "כהן|cohen, לוי|levi, מזרחי|mizrahi, פרץ|peretz, ביטון|biton, אברהם|avraham, "
            "פרידמן|friedman, שפירא|shapira, דהן|dahan, אזולאי|azoulay, גולן|golan, "
            "בן דוד|bendavid"
        ),
        (
            ("תל אביב-יפו", "61"),
            ("ירושלים", "91"),
            ("חיפה", "31"),
            ("באר שבע", "84"),
            ("ראשון לציון", "75"),
            ("פתח תקווה", "49"),
            ("נתניה", "42"),
            ("הרצליה", "46"),
        ),
        (
            "רחוב הרצל",
            "שדרות רוטשילד",
            "רחוב יפו",
            "רחוב בן יהודה",
            "דרך מנחם בגין",
            "רחוב ויצמן",
            "רחוב אלנבי",
        ),
        ("תל אביב דיזנגוף", "ירושלים ממילא", "Online"),
        ("doar.example", "example.co.il", "example.com"),
    ),
    Country(
        "GB",
        "en",
        "Europe/London",
        0.15,
        _n(
            "Emma, Oliver, Amelia, George, Olivia, Harry, Isla, Jack, Sophie, James, "
            "Charlotte, William"
        ),
        _n(
            "Smith, Jones, Taylor, Brown, Williams, Wilson, Davies, Evans, Walker, Wright, "
            "Thompson, Hughes"
        ),
        (
            ("London", "N1 "),
            ("Manchester", "M1 "),
            ("Birmingham", "B1 "),
            ("Leeds", "LS1 "),
            ("Bristol", "BS1 "),
            ("Edinburgh", "EH1 "),
        ),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue"),
        ("London Covent Garden", "Online"),
        ("example.co.uk", "example.com", "mail.example"),
    ),
    Country(
        "US",
        "en",
        "America/New_York",
        0.10,
        _n("Emily, Michael, Ava, Ethan, Madison, Noah, Abigail, Liam, Harper, Mason"),
        _n("Johnson, Miller, Garcia, Martinez, Anderson, Clark, Lewis, Young, Allen, King"),
        (
            ("New York", "100"),
            ("Boston", "021"),
            ("Chicago", "606"),
            ("San Francisco", "941"),
            ("Austin", "787"),
        ),
        ("Main Street", "Oak Avenue", "Maple Drive", "Elm Street", "Washington Avenue"),
        ("Online",),
        ("example.com", "example.net", "mail.example"),
    ),
)

# (sku, name, unit price): an Italian kitchen and food shop, cheapest first.
CATALOGUE = (
    ("PASTA-SET", "Artisan pasta set", "15.00"),
    ("OLIVE-OIL-1L", "Extra virgin olive oil 1 L", "18.90"),
    ("TRUFFLE-OIL", "Truffle oil 250 ml", "19.50"),
    ("WINE-CHIANTI", "Chianti Classico DOCG", "21.00"),
    ("LIMONCELLO", "Limoncello 70 cl", "22.00"),
    ("ESPR-BEANS-1KG", "Espresso beans 1 kg", "24.50"),
    ("APRON", "Cotton apron", "25.00"),
    ("PANETTONE", "Panettone 1 kg", "28.00"),
    ("MOKA-3", "Moka pot, 3 cups", "29.90"),
    ("PARM-24M", "Parmigiano Reggiano 24 months, 1 kg", "32.00"),
    ("CUPS-SET", "Espresso cups (6)", "36.00"),
    ("PIZZA-STONE", "Pizza stone", "45.00"),
    ("WINE-BAROLO", "Barolo DOCG", "58.00"),
    ("TABLECLOTH", "Linen tablecloth", "59.00"),
    ("CERAMIC-PLATES", "Hand-painted plates (6)", "79.00"),
    ("BALS-25Y", "Balsamic vinegar, 25 years", "89.00"),
    ("GIFT-BOX", "Gift box", "120.00"),
    ("GRINDER", "Burr coffee grinder", "149.00"),
    ("KNIFE-SET", "Chef knife set", "219.00"),
    ("ESPR-MACHINE", "Espresso machine", "649.00"),
)

ORGANIZATIONS = (
    ("Trattoria Da Mario S.r.l.", "trattoriadamario.example"),
    ("Hotel Bellavista S.p.A.", "bellavista.example"),
    ("Caffè Centrale", "caffecentrale.example"),
    ("Enoteca Il Grappolo", "ilgrappolo.example"),
    ("מסעדת הנמל בע״מ", "hanamal.example"),
    ("קפה לילה", "cafelila.example"),
    ("The Olive Branch Ltd", "olivebranch.example"),
    ("Bistro 21 LLC", "bistro21.example"),
)

ATTRIBUTES = (
    ("loyalty_member", "Loyalty member", AttributeDefinition.Type.BOOLEAN),
    ("preferred_store", "Preferred store", AttributeDefinition.Type.TEXT),
    ("city", "City", AttributeDefinition.Type.TEXT),
    ("address", "Address", AttributeDefinition.Type.TEXT),
)

AGENTS = (
    ("giulia.ferri", "Giulia", "Ferri", "it", Role.SUPERVISOR),
    ("marco.galli", "Marco", "Galli", "it", Role.AGENT),
    ("noa.barak", "Noa", "Barak", "he", Role.AGENT),
    ("james.hall", "James", "Hall", "en", Role.AGENT),
)

NOTES = (
    "Called about a late delivery; offered free shipping on the next order.",
    "Asked whether the moka pot works on induction.",
    "Prefers to be contacted on WhatsApp.",
    "Gift order for a wedding: wrapped by hand.",
    "Returned a chipped plate; replacement sent.",
)

TIERS = ((Decimal("1000"), "platinum"), (Decimal("400"), "gold"), (Decimal("150"), "silver"))


@dataclass
class DemoOrder:
    external_id: str
    placed_at: dt.datetime
    status: str
    delivered_at: dt.datetime | None
    promised_at: dt.datetime
    lines: list[tuple[str, str, int, Decimal]]

    @property
    def total(self) -> Decimal:
        return sum((price * qty for _, _, qty, price in self.lines), Decimal("0.00"))


@dataclass
class DemoCustomer:
    index: int
    external_id: str
    name: str
    locale: str
    timezone: str
    birthday: dt.date | None
    attributes: dict[str, Any]
    identities: list[tuple[str, str]]
    signed_up: dt.datetime
    orders: list[DemoOrder] = field(default_factory=list)
    consents: list[tuple[str, str, bool, str, dt.datetime]] = field(default_factory=list)
    organization: int | None = None
    note: tuple[str, dt.datetime] | None = None

    @property
    def spend(self) -> Decimal:
        return sum((o.total for o in self.orders if o.status not in NOT_SPENT), Decimal("0.00"))

    @property
    def value_tier(self) -> str:
        if not self.orders:
            return ""
        spend = self.spend
        return next((tier for floor, tier in TIERS if spend >= floor), "bronze")


def external_id(index: int) -> str:
    return f"{PREFIX}{index:07d}"


def _country(rng: random.Random) -> Country:
    roll = rng.random()
    for country in COUNTRIES:
        roll -= country.weight
        if roll < 0:
            return country
    return COUNTRIES[0]


def demo_customer(seed: int, index: int, anchor: dt.datetime) -> DemoCustomer:
    """The demo customer number `index` (from 1) for this seed: the same every time."""
    rng = random.Random(f"{seed}:{index}")
    country = _country(rng)
    (first, first_latin), (last, last_latin) = rng.choice(country.first), rng.choice(country.last)
    city = rng.choice(country.cities)
    start = anchor - dt.timedelta(days=730)
    signed_up = start - dt.timedelta(days=rng.randrange(0, 365), seconds=rng.randrange(86400))
    customer = DemoCustomer(
        index=index,
        external_id=external_id(index),
        name=f"{first} {last}",
        locale=country.locale,
        timezone=country.timezone,
        birthday=dt.date(rng.randrange(1945, 2007), rng.randrange(1, 13), rng.randrange(1, 29))
        if rng.random() < 0.7
        else None,
        attributes={
            "loyalty_member": rng.random() < 0.35,
            "city": city[0],
            "address": country.address(rng, city),
            **({"preferred_store": rng.choice(country.stores)} if rng.random() < 0.6 else {}),
        },
        identities=[],
        signed_up=signed_up,
    )
    local = f"{first_latin.lower()}{rng.choice('._')}{last_latin.lower()}{index}"
    if rng.random() < 0.93:
        customer.identities.append(("email", f"{local}@{rng.choice(country.domains)}"))
    if rng.random() < 0.7:
        phone = country.phone(rng, index)
        customer.identities.append(("phone", phone))
        if rng.random() < 0.6:
            customer.identities.append(("whatsapp", phone))
    if rng.random() < 0.5:
        visitor = hashlib.sha256(f"{seed}:{index}:web".encode()).hexdigest()[:20]
        customer.identities.append(("web", f"v_{visitor}"))
    weight = rng.paretovariate(PARETO_ALPHA)
    count = 0 if rng.random() < 0.12 else min(MAX_ORDERS, max(1, int(weight)))
    when = sorted(start + dt.timedelta(seconds=rng.randrange(730 * 86400)) for _ in range(count))
    for n, placed in enumerate(when, start=1):
        customer.orders.append(_order(rng, customer.external_id, n, placed, anchor, weight))
    customer.consents = _consents(rng, customer, anchor)
    if rng.random() < 0.04:
        customer.organization = rng.randrange(len(ORGANIZATIONS))
    if rng.random() < 0.3:
        customer.note = (rng.choice(NOTES), start + dt.timedelta(days=rng.randrange(730)))
    return customer


def _order(
    rng: random.Random,
    customer_ref: str,
    n: int,
    placed: dt.datetime,
    anchor: dt.datetime,
    weight: float,
) -> DemoOrder:
    # Big spenders buy more lines and dearer things.
    exponent = 2.2 / (1 + 0.6 * math.log(weight))
    lines: dict[str, tuple[str, str, int, Decimal]] = {}
    for _ in range(1 + (rng.random() < 0.45) + (rng.random() < 0.2 * min(3.0, weight))):
        sku, name, price = CATALOGUE[int(len(CATALOGUE) * rng.random() ** exponent)]
        quantity = 1 if rng.random() < 0.8 else rng.randrange(2, 4)
        lines[sku] = (sku, name, quantity, Decimal(price))
    age = (anchor - placed).days
    roll = rng.random()
    if age > 21:
        status = (
            "delivered"
            if roll < 0.88
            else "returned"
            if roll < 0.92
            else "cancelled"
            if roll < 0.97
            else "refunded"
        )
    elif age > 3:
        status = (
            "delivered"
            if roll < 0.7
            else "shipped"
            if roll < 0.82
            else "delayed"
            if roll < 0.92
            else "cancelled"
        )
    else:
        status = "paid" if roll < 0.4 else "pending" if roll < 0.6 else "shipped"
    delivered = (
        placed + dt.timedelta(days=rng.randrange(1, 7), hours=rng.randrange(24))
        if status in ("delivered", "returned", "refunded")
        else None
    )
    return DemoOrder(
        external_id=f"{customer_ref}-{n:03d}",
        placed_at=placed,
        status=status,
        delivered_at=delivered,
        promised_at=placed + dt.timedelta(days=4),
        lines=list(lines.values()),
    )


def _consents(
    rng: random.Random, customer: DemoCustomer, anchor: dt.datetime
) -> list[tuple[str, str, bool, str, dt.datetime]]:
    kinds = {kind for kind, _ in customer.identities}
    when = customer.signed_up
    changes = [("service", "any", True, "signup", when)]
    if "email" in kinds:
        if rng.random() < 0.55:
            changes.append(("marketing", "email", True, "signup", when))
            if rng.random() < 0.18:
                revoked = when + (anchor - when) * rng.random()
                changes.append(("marketing", "email", False, "unsubscribe link", revoked))
        if rng.random() < 0.35:
            changes.append(("surveys", "email", True, "preference centre", when))
    if "whatsapp" in kinds and rng.random() < 0.4:
        changes.append(("marketing", "whatsapp", True, "WhatsApp opt-in", when))
    return changes


# -- loading ----------------------------------------------------------------------------------
def load_demo(
    *,
    customers: int = 300,
    seed: int = 42,
    workspace_slug: str = "demo",
    progress: Progress | None = None,
) -> Workspace:
    """Create (or reuse) the workspace "Demo" and load `customers` deterministic demo customers.

    Idempotent: customers already there (by external id) are skipped, so running it twice
    duplicates nothing, and running it with a larger number adds the missing ones.
    """
    actor = Actor.system("demo")
    anchor = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    with transaction.atomic():
        workspace = _workspace(workspace_slug, actor)
    bulk = customers > SERVICE_PATH_MAX
    for start in range(1, customers + 1, CHUNK):
        indexes = range(start, min(customers, start + CHUNK - 1) + 1)
        batch = [demo_customer(seed, i, anchor) for i in _missing(workspace, indexes)]
        if bulk:
            _load_bulk(workspace, batch)
        else:
            for customer in batch:
                with transaction.atomic():
                    _load_one(workspace, customer, actor)
                if progress is not None:
                    progress(customer.index, customers)
        if progress is not None:
            progress(indexes.stop - 1, customers)
    return workspace


def _workspace(slug: str, actor: Actor) -> Workspace:
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        workspace = workspace_create(
            name="Demo", slug=slug, timezone_name="Europe/Rome", default_locale="it"
        )
        workspace.default_currency = CURRENCY
        workspace.save(update_fields=["default_currency"])
    for key, label, kind in ATTRIBUTES:
        AttributeDefinition.objects.get_or_create(
            workspace=workspace, key=key, defaults={"label": label, "type": kind}
        )
    for name, domain in ORGANIZATIONS:
        if not Organization.objects.filter(workspace=workspace, external_id=domain).exists():
            services.organization_upsert(
                workspace=workspace, actor=actor, name=name, external_id=domain, domain=domain
            )
    members = []
    for username, first, last, locale, role in AGENTS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(
                username=username,
                first_name=first,
                last_name=last,
                locale=locale,
                email=f"{username}@ascolto.example",
            )
            user.set_unusable_password()
            user.save()
        if not Membership.objects.filter(workspace=workspace, user=user).exists():
            membership_set(workspace=workspace, user=user, role=role, actor=actor)
        members.append(user)
    if not Team.objects.filter(workspace=workspace, name="Customer care").exists():
        team_create(workspace=workspace, name="Customer care", members=members, actor=actor)
    return workspace


def _missing(workspace: Workspace, indexes: range) -> list[int]:
    wanted = {external_id(i): i for i in indexes}
    have = set(
        Customer.objects.filter(workspace=workspace, external_id__in=list(wanted)).values_list(
            "external_id", flat=True
        )
    )
    return [i for ref, i in wanted.items() if ref not in have]


def _organizations(workspace: Workspace) -> list[Organization]:
    by_ref = {o.external_id: o for o in Organization.objects.filter(workspace=workspace)}
    return [by_ref[domain] for _, domain in ORGANIZATIONS]


def _load_one(workspace: Workspace, data: DemoCustomer, actor: Actor) -> None:
    organizations = _organizations(workspace)
    customer = services.customer_create(
        workspace=workspace,
        actor=actor,
        name=data.name,
        external_id=data.external_id,
        locale=data.locale,
        timezone_name=data.timezone,
        birthday=data.birthday,
        attributes=data.attributes,
        value_tier=data.value_tier,
        organization=None if data.organization is None else organizations[data.organization],
        identities=data.identities,
    )
    for kind_purpose, channel, granted, source, when in data.consents:
        services.consent_set(
            customer=customer,
            purpose=kind_purpose,
            channel=channel,
            granted=granted,
            actor=actor,
            source=source,
            recorded_at=when,
        )
    for order in data.orders:
        services.order_upsert(
            workspace=workspace,
            customer=customer,
            actor=actor,
            data=services.OrderInput(
                external_id=order.external_id,
                placed_at=order.placed_at,
                total=order.total,
                currency=CURRENCY,
                status=order.status,
                delivered_at=order.delivered_at,
                promised_at=order.promised_at,
                lines=[
                    services.OrderLineInput(
                        name=name, quantity=Decimal(qty), unit_price=price, sku=sku
                    )
                    for sku, name, qty, price in order.lines
                ],
            ),
        )
    if data.note is not None:
        services.activity_record(
            customer=customer,
            kind="note",
            title=data.note[0],
            actor=actor,
            occurred_at=data.note[1],
            source_type="demo",
        )


def _raw_customer(data: DemoCustomer) -> dict[str, Any]:
    handles = dict(data.identities)
    return {
        "external_id": data.external_id,
        "name": data.name,
        "locale": data.locale,
        "timezone": data.timezone,
        "birthday": data.birthday.isoformat() if data.birthday else None,
        "value_tier": data.value_tier or None,
        "attributes": data.attributes,
        "email": handles.get("email"),
        "phone": handles.get("phone"),
        "whatsapp": handles.get("whatsapp"),
        "identities": {"web": handles["web"]} if "web" in handles else {},
    }


def _raw_order(customer: DemoCustomer, order: DemoOrder) -> dict[str, Any]:
    return {
        "external_id": order.external_id,
        "customer_external_id": customer.external_id,
        "status": order.status,
        "placed_at": order.placed_at.isoformat(),
        "delivered_at": order.delivered_at.isoformat() if order.delivered_at else None,
        "promised_at": order.promised_at.isoformat(),
        "total": str(order.total),
        "currency": CURRENCY,
        "lines": [
            {"sku": sku, "name": name, "quantity": qty, "unit_price": str(price)}
            for sku, name, qty, price in order.lines
        ],
    }


def _validated(
    kind: str, rows: Iterator[dict[str, Any]], workspace: Workspace
) -> Iterator[tuple[list[Record], list[RowError], int]]:
    """The rows through the import's validation, as the import would read them from a file."""
    validator = RowValidator(attribute_specs(workspace))
    yield validate_chunk((kind, "objects", None, list(enumerate(rows, start=1))), validator)


def _load_bulk(workspace: Workspace, batch: list[DemoCustomer]) -> None:
    """The import's set-based path, then consents and organizations in bulk."""
    if not batch:
        return
    report = ErrorReport(None, "csv")
    import_records(
        workspace=workspace,
        kind="customers",
        validated=_validated("customers", (_raw_customer(c) for c in batch), workspace),
        report=report,
        large=False,
    )
    import_records(
        workspace=workspace,
        kind="orders",
        validated=_validated(
            "orders", (_raw_order(c, o) for c in batch for o in c.orders), workspace
        ),
        report=report,
        large=False,
    )
    if report.count:
        raise RuntimeError(f"Demo data failed validation: {report.sample[:3]}")
    ids = dict(
        Customer.objects.filter(
            workspace=workspace, external_id__in=[c.external_id for c in batch]
        ).values_list("external_id", "id")
    )
    now = timezone.now()
    writer = SqlWriter(workspace=workspace)
    current: dict[tuple[int, str, str], tuple[bool, str, dt.datetime]] = {}
    history = []
    for c in batch:
        for purpose, channel, granted, source, when in c.consents:
            history.append(
                (
                    workspace.pk,
                    ids[c.external_id],
                    purpose,
                    channel,
                    granted,
                    source,
                    when,
                    "demo",
                    now,
                    now,
                )
            )
            current[(ids[c.external_id], purpose, channel)] = (granted, source, when)
    with transaction.atomic():
        writer.insert_rows(
            ConsentChange._meta.db_table,
            (
                "workspace_id",
                "customer_id",
                "purpose",
                "channel",
                "granted",
                "source",
                "recorded_at",
                "actor_label",
                "created_at",
                "updated_at",
            ),
            history,
        )
        writer.insert_rows(
            Consent._meta.db_table,
            (
                "workspace_id",
                "customer_id",
                "purpose",
                "channel",
                "granted",
                "source",
                "recorded_at",
                "created_at",
                "updated_at",
            ),
            [
                (workspace.pk, cid, purpose, channel, granted, source, when, now, now)
                for (cid, purpose, channel), (granted, source, when) in current.items()
            ],
        )
        organizations = _organizations(workspace)
        for n, organization in enumerate(organizations):
            members = [ids[c.external_id] for c in batch if c.organization == n]
            if members:
                Customer.objects.filter(pk__in=members).update(organization=organization)


def demo_summary(workspace: Workspace) -> dict[str, int]:
    return {
        "customers": Customer.objects.filter(workspace=workspace).count(),
        "orders": Order.objects.filter(workspace=workspace).count(),
        "identities": Identity.objects.filter(workspace=workspace).count(),
        "consents": Consent.objects.filter(workspace=workspace).count(),
    }
