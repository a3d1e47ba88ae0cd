"""The demo gift-card catalog: about forty fictional brands in eight categories. Pure data.

Every name is invented and every URL is on an example domain. Amounts are integer minor
units (cents); all demo currencies have two decimals, so one amount fits every currency.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from string import Formatter
from urllib.parse import urlsplit

from app.domain.logos import brand_logo_svg

CATEGORIES: tuple[str, ...] = (
    "Food & Dining",
    "Groceries",
    "Fashion",
    "Electronics",
    "Home & Garden",
    "Travel",
    "Entertainment",
    "Health & Beauty",
)

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HEX = re.compile(r"^#[0-9a-f]{6}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_STEP = re.compile(r"^(\d+)\. \S")
_EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")
_PLACEHOLDERS = frozenset({"code", "pin"})


@dataclass(frozen=True, slots=True)
class DemoBrand:
    """One gift-card brand. Fixed `denominations`, or (when empty) any amount in min..max."""

    slug: str
    name: str
    category: str
    description: str
    color: str
    redemption_instructions: str
    terms: str
    currencies: tuple[str, ...] = ("USD",)
    denominations: tuple[int, ...] = ()
    min_amount: int | None = None
    max_amount: int | None = None
    has_pin: bool = False
    redemption_url: str | None = None
    supports_retry: bool = True

    @property
    def is_variable(self) -> bool:
        return not self.denominations

    def logo_svg(self) -> str:
        return brand_logo_svg(self.name, color=self.color)


def _steps(*lines: str) -> str:
    return "\n".join(f"{n}. {line}" for n, line in enumerate(lines, start=1))


def _url(slug: str, *, pin: bool = False, host: str = "redeem.example.com") -> str:
    return f"https://{host}/{slug}?code={{code}}" + ("&pin={pin}" if pin else "")


_ONLINE = _steps(
    "Add your items to the cart on our website.",
    "Choose “Gift card” at checkout and enter the card code.",
    "Pay any remaining balance with another payment method.",
)
_ONLINE_PIN = _steps(
    "Add your items to the cart on our website.",
    "Choose “Gift card” at checkout.",
    "Enter the card code and the PIN.",
    "Pay any remaining balance with another payment method.",
)
_IN_STORE = _steps(
    "Visit any of our locations.",
    "Show the card code on your phone before you pay.",
    "Any unused balance stays on the card.",
)
_LINK = _steps(
    "Open the redemption link in your email.",
    "Sign in or create a free account.",
    "The balance is added to your account right away.",
)

_TERMS = "Not redeemable for cash except where required by law. Treat this card like cash."
_TERMS_NO_EXPIRY = "Never expires and carries no fees. Not redeemable for cash except where required by law."
_TERMS_NO_RESALE = "Cannot be resold or exchanged. Lost or stolen cards cannot be replaced."

_SMALL = (1000, 2500, 5000)
_STANDARD = (1000, 2500, 5000, 10000)
_LARGE = (2500, 5000, 10000, 20000)
_TRAVEL = (5000, 10000, 25000, 50000)

DEMO_BRANDS: tuple[DemoBrand, ...] = (
    # --- Food & Dining ---------------------------------------------------------------
    DemoBrand(
        slug="bluefin-sushi-bar",
        name="Bluefin Sushi Bar",
        category="Food & Dining",
        description="Hand-rolled sushi and warm ramen bowls. Treat someone to an omakase night.",
        color="#0e7490",
        redemption_instructions=_IN_STORE,
        terms=_TERMS,
        denominations=_STANDARD,
        redemption_url=None,
    ),
    DemoBrand(
        slug="copper-kettle-diner",
        name="Copper Kettle Diner",
        category="Food & Dining",
        description="All-day breakfasts, bottomless coffee and pie the way grandma made it.",
        color="#b45309",
        redemption_instructions=_IN_STORE,
        terms=_TERMS_NO_EXPIRY,
        denominations=_SMALL,
        has_pin=True,
        redemption_url=None,
    ),
    DemoBrand(
        slug="saffron-street-kitchen",
        name="Saffron Street Kitchen",
        category="Food & Dining",
        description="Fragrant curries and street food from around the world, delivered hot.",
        color="#ea580c",
        redemption_instructions=_ONLINE,
        terms=_TERMS,
        currencies=("USD", "EUR"),
        min_amount=500,
        max_amount=20000,
        redemption_url=_url("saffron-street-kitchen"),
    ),
    DemoBrand(
        slug="little-ember-pizza",
        name="Little Ember Pizza",
        category="Food & Dining",
        description="Wood-fired pizza with a blistered crust. Share a pie with friends.",
        color="#dc2626",
        redemption_instructions=_ONLINE_PIN,
        terms=_TERMS,
        denominations=_SMALL,
        has_pin=True,
        redemption_url=_url("little-ember-pizza", pin=True),
    ),
    DemoBrand(
        slug="maple-and-mortar-bakery",
        name="Maple & Mortar Bakery",
        category="Food & Dining",
        description="Sourdough, cinnamon buns and celebration cakes, baked fresh every morning.",
        color="#fcd34d",
        redemption_instructions=_IN_STORE,
        terms=_TERMS_NO_EXPIRY,
        currencies=("EUR", "GBP"),
        denominations=(1000, 2000, 3000),
        redemption_url=None,
        supports_retry=False,
    ),
    DemoBrand(
        slug="tumbleweed-taqueria",
        name="Tumbleweed Taqueria",
        category="Food & Dining",
        description="Street tacos, fresh salsas and aguas frescas. Perfect for a casual lunch.",
        color="#65a30d",
        redemption_instructions=_ONLINE,
        terms=_TERMS,
        min_amount=500,
        max_amount=10000,
        redemption_url=_url("tumbleweed-taqueria"),
    ),
    # --- Groceries -------------------------------------------------------------------
    DemoBrand(
        slug="greenbasket-market",
        name="Greenbasket Market",
        category="Groceries",
        description="Organic produce and pantry staples from local farms, delivered to your door.",
        color="#15803d",
        redemption_instructions=_ONLINE_PIN,
        terms=_TERMS,
        currencies=("USD", "EUR"),
        denominations=_STANDARD,
        has_pin=True,
        redemption_url=_url("greenbasket-market", pin=True),
    ),
    DemoBrand(
        slug="harvest-lane-grocers",
        name="Harvest Lane Grocers",
        category="Groceries",
        description="Your neighbourhood grocer for everyday essentials and seasonal treats.",
        color="#a16207",
        redemption_instructions=_IN_STORE,
        terms=_TERMS,
        min_amount=1000,
        max_amount=50000,
        has_pin=True,
        redemption_url=None,
    ),
    DemoBrand(
        slug="pantry-corner",
        name="Pantry Corner",
        category="Groceries",
        description="Bulk goods, spices and zero-waste refills. Bring your own jar!",
        color="#78350f",
        redemption_instructions=_IN_STORE,
        terms=_TERMS_NO_EXPIRY,
        denominations=_SMALL,
        redemption_url=_url("pantry-corner", host="shop.example.org"),
    ),
    DemoBrand(
        slug="orchard-row-foods",
        name="Orchard Row Foods",
        category="Groceries",
        description="Fresh fruit, artisan cheese and a deli counter worth the trip.",
        color="#4d7c0f",
        redemption_instructions=_ONLINE,
        terms=_TERMS,
        currencies=("EUR", "GBP"),
        denominations=(1000, 2500, 5000, 7500),
        has_pin=True,
        redemption_url=_url("orchard-row-foods"),
    ),
    # --- Fashion ---------------------------------------------------------------------
    DemoBrand(
        slug="peak-outfitters",
        name="Peak Outfitters",
        category="Fashion",
        description="Jackets, boots and layers built for the trail and the city alike.",
        color="#1e3a8a",
        redemption_instructions=_ONLINE_PIN,
        terms=_TERMS,
        currencies=("USD", "EUR"),
        denominations=_LARGE,
        has_pin=True,
        redemption_url=_url("peak-outfitters", pin=True),
    ),
    DemoBrand(
        slug="juniper-threads",
        name="Juniper Threads",
        category="Fashion",
        description="Soft basics and easy dresses in natural fabrics. Comfort never looked this good.",
        color="#047857",
        redemption_instructions=_ONLINE,
        terms=_TERMS,
        min_amount=1000,
        max_amount=30000,
        redemption_url=_url("juniper-threads"),
    ),
    DemoBrand(
        slug="stitchwell-denim",
        name="Stitchwell Denim",
        category="Fashion",
        description="Raw selvedge and broken-in favourites, hemmed to fit while you wait.",
        color="#1d4ed8",
        redemption_instructions=_IN_STORE,
        terms=_TERMS_NO_RESALE,
        denominations=_STANDARD,
        redemption_url=_url("stitchwell-denim"),
    ),
    DemoBrand(
        slug="velvet-finch-boutique",
        name="Velvet Finch Boutique",
        category="Fashion",
        description="Statement pieces and vintage finds, curated by hand each week.",
        color="#9d174d",
        redemption_instructions=_ONLINE_PIN,
        terms=_TERMS,
        denominations=(2500, 5000, 10000),
        has_pin=True,
        redemption_url=_url("velvet-finch-boutique", pin=True),
        supports_retry=False,
    ),
    DemoBrand(
        slug="linen-and-lark",
        name="Linen & Lark",
        category="Fashion",
        description="Breezy linen shirts and summer staples for slow, sunny days.",
        color="#f5f5dc",
        redemption_instructions=_ONLINE,
        terms=_TERMS_NO_EXPIRY,
        currencies=("USD", "EUR"),
        denominations=_STANDARD,
        redemption_url=_url("linen-and-lark", host="gift.example.net"),
    ),
    # --- Electronics -----------------------------------------------------------------
    DemoBrand(
        slug="voltwave-electronics",
        name="Voltwave Electronics",
        category="Electronics",
        description="Laptops, phones and smart-home gear, with friendly experts to help you choose.",
        color="#4338ca",
        redemption_instructions=_ONLINE_PIN,
        terms=_TERMS,
        denominations=_LARGE,
        has_pin=True,
        redemption_url=_url("voltwave-electronics", pin=True),
    ),
    DemoBrand(
        slug="pixel-harbor",
        name="Pixel Harbor",
        category="Electronics",
        description="Cameras, lenses and everything a creator needs to tell a story.",
        color="#0f172a",
        redemption_instructions=_ONLINE,
        terms=_TERMS,
        currencies=("USD", "EUR"),
        min_amount=2500,
        max_amount=100000,
        redemption_url=_url("pixel-harbor"),
    ),
    DemoBrand(
        slug="circuit-cove",
        name="Circuit Cove",
        category="Electronics",
        description="Parts, kits and tools for makers. Build the thing you have been dreaming of.",
        color="#22d3ee",
        redemption_instructions=_ONLINE,
        terms=_TERMS_NO_EXPIRY,
        min_amount=500,
        max_amount=15000,
        redemption_url=_url("circuit-cove"),
    ),
    DemoBrand(
        slug="brightwire-tech",
        name="Brightwire Tech",
        category="Electronics",
        description="Chargers, cables and clever accessories that keep every device going.",
        color="#facc15",
        redemption_instructions=_ONLINE_PIN,
        terms=_TERMS,
        denominations=(1500, 3000, 6000),
        has_pin=True,
        redemption_url=_url("brightwire-tech", pin=True),
    ),
    DemoBrand(
        slug="signal-peak-audio",
        name="Signal Peak Audio",
        category="Electronics",
        description="Headphones and speakers tuned for people who really listen.",
        color="#7f1d1d",
        redemption_instructions=_ONLINE,
        terms=_TERMS_NO_RESALE,
        currencies=("EUR", "GBP"),
        denominations=_LARGE,
        redemption_url=_url("signal-peak-audio"),
        supports_retry=False,
    ),
    # --- Home & Garden ---------------------------------------------------------------
    DemoBrand(
        slug="willowmere-home",
        name="Willowmere Home",
        category="Home & Garden",
        description="Cosy throws, ceramics and candles to make any house feel like home.",
        color="#a78bfa",
        redemption_instructions=_ONLINE,
        terms=_TERMS,
        currencies=("USD", "EUR"),
        denominations=_STANDARD,
        redemption_url=_url("willowmere-home"),
    ),
    DemoBrand(
        slug="terracotta-and-twine",
        name="Terracotta & Twine",
        category="Home & Garden",
        description="Planters, pots and garden tools with a rustic, hand-made touch.",
        color="#c2410c",
        redemption_instructions=_IN_STORE,
        terms=_TERMS_NO_EXPIRY,
        min_amount=500,
        max_amount=25000,
        has_pin=True,
        redemption_url=None,
    ),
    DemoBrand(
        slug="greenthumb-garden-supply",
        name="Greenthumb Garden Supply",
        category="Home & Garden",
        description="Seeds, soil and seedlings, plus advice from gardeners who love to share.",
        color="#16a34a",
        redemption_instructions=_ONLINE_PIN,
        terms=_TERMS,
        denominations=_STANDARD,
        has_pin=True,
        redemption_url=_url("greenthumb-garden-supply", pin=True),
    ),
    DemoBrand(
        slug="oak-and-ember-furnishings",
        name="Oak & Ember Furnishings",
        category="Home & Garden",
        description="Solid-wood tables and sofas made to last for generations.",
        color="#57534e",
        redemption_instructions=_ONLINE,
        terms=_TERMS_NO_RESALE,
        denominations=(5000, 10000, 25000),
        redemption_url=_url("oak-and-ember-furnishings"),
    ),
    DemoBrand(
        slug="tidy-nest-home-goods",
        name="Tidy Nest Home Goods",
        category="Home & Garden",
        description="Storage, organisers and cleaning helpers for a calmer home.",
        color="#5eead4",
        redemption_instructions=_ONLINE,
        terms=_TERMS,
        min_amount=1000,
        max_amount=20000,
        redemption_url=_url("tidy-nest-home-goods", host="shop.example.org"),
    ),
    # --- Travel ----------------------------------------------------------------------
    DemoBrand(
        slug="skylark-getaways",
        name="Skylark Getaways",
        category="Travel",
        description="Weekend escapes and city breaks, with flights and hotels in one booking.",
        color="#0284c7",
        redemption_instructions=_LINK,
        terms=_TERMS_NO_RESALE,
        currencies=("USD", "EUR"),
        denominations=_TRAVEL,
        has_pin=True,
        redemption_url=_url("skylark-getaways", pin=True),
    ),
    DemoBrand(
        slug="driftwood-stays",
        name="Driftwood Stays",
        category="Travel",
        description="Hand-picked cabins and beach cottages for a slower kind of holiday.",
        color="#92400e",
        redemption_instructions=_LINK,
        terms=_TERMS,
        min_amount=5000,
        max_amount=50000,
        redemption_url=_url("driftwood-stays"),
    ),
    DemoBrand(
        slug="northstar-rail-pass",
        name="Northstar Rail Pass",
        category="Travel",
        description="Scenic train journeys across the continent. Sit back and watch the world go by.",
        color="#1e40af",
        redemption_instructions=_LINK,
        terms=_TERMS_NO_RESALE,
        currencies=("EUR", "GBP"),
        denominations=_TRAVEL,
        has_pin=True,
        redemption_url=_url("northstar-rail-pass", pin=True, host="tickets.example.net"),
        supports_retry=False,
    ),
    DemoBrand(
        slug="lanternway-cruises",
        name="Lanternway Cruises",
        category="Travel",
        description="River cruises with lantern-lit dinners on deck. A gift to remember.",
        color="#312e81",
        redemption_instructions=_LINK,
        terms=_TERMS,
        denominations=(10000, 25000, 50000),
        redemption_url=_url("lanternway-cruises"),
    ),
    # --- Entertainment ---------------------------------------------------------------
    DemoBrand(
        slug="northwind-books",
        name="Northwind Books",
        category="Entertainment",
        description="New releases, old favourites and a reading nook with free tea.",
        color="#7c2d12",
        redemption_instructions=_ONLINE,
        terms=_TERMS_NO_EXPIRY,
        currencies=("USD", "EUR"),
        denominations=_STANDARD,
        redemption_url=_url("northwind-books"),
    ),
    DemoBrand(
        slug="starlight-cinemas",
        name="Starlight Cinemas",
        category="Entertainment",
        description="Blockbusters on the big screen, with reclining seats and fresh popcorn.",
        color="#111111",
        redemption_instructions=_ONLINE_PIN,
        terms=_TERMS,
        denominations=_SMALL,
        has_pin=True,
        redemption_url=_url("starlight-cinemas", pin=True),
    ),
    DemoBrand(
        slug="riverbend-arcade",
        name="Riverbend Arcade",
        category="Entertainment",
        description="Retro cabinets, pinball and prize tickets for players of every age.",
        color="#e11d48",
        redemption_instructions=_IN_STORE,
        terms=_TERMS,
        min_amount=500,
        max_amount=10000,
        redemption_url=None,
    ),
    DemoBrand(
        slug="encore-live-tickets",
        name="Encore Live Tickets",
        category="Entertainment",
        description="Concerts, comedy and theatre near you. Give the gift of a great night out.",
        color="#6d28d9",
        redemption_instructions=_LINK,
        terms=_TERMS_NO_RESALE,
        denominations=_LARGE,
        has_pin=True,
        redemption_url=_url("encore-live-tickets", pin=True, host="tickets.example.net"),
        supports_retry=False,
    ),
    DemoBrand(
        slug="moonbeam-streaming",
        name="Moonbeam Streaming",
        category="Entertainment",
        description="Films, series and documentaries to stream anywhere, ad-free.",
        color="#c4b5fd",
        redemption_instructions=_LINK,
        terms=_TERMS,
        currencies=("USD", "EUR"),
        denominations=(1500, 3000, 6000),
        redemption_url=_url("moonbeam-streaming"),
    ),
    DemoBrand(
        slug="quest-forge-games",
        name="Quest Forge Games",
        category="Entertainment",
        description="Board games, puzzles and tabletop adventures for game night.",
        color="#059669",
        redemption_instructions=_ONLINE,
        terms=_TERMS,
        min_amount=1000,
        max_amount=20000,
        has_pin=True,
        redemption_url=_url("quest-forge-games", pin=True),
    ),
    # --- Health & Beauty -------------------------------------------------------------
    DemoBrand(
        slug="petal-and-pine-apothecary",
        name="Petal & Pine Apothecary",
        category="Health & Beauty",
        description="Botanical soaps, balms and bath salts, made in small batches.",
        color="#fbcfe8",
        redemption_instructions=_ONLINE,
        terms=_TERMS_NO_EXPIRY,
        currencies=("USD", "EUR"),
        denominations=_SMALL,
        redemption_url=_url("petal-and-pine-apothecary"),
    ),
    DemoBrand(
        slug="glowfield-skincare",
        name="Glowfield Skincare",
        category="Health & Beauty",
        description="Gentle, fragrance-free skincare for every skin type.",
        color="#f472b6",
        redemption_instructions=_ONLINE_PIN,
        terms=_TERMS,
        denominations=_STANDARD,
        has_pin=True,
        redemption_url=_url("glowfield-skincare", pin=True),
    ),
    DemoBrand(
        slug="stillwater-spa",
        name="Stillwater Spa",
        category="Health & Beauty",
        description="Massages, facials and a quiet hour by the pool. Pure relaxation.",
        color="#0891b2",
        redemption_instructions=_steps(
            "Call or book online to reserve your treatment.",
            "Mention your gift card when you book.",
            "Show the card code at reception on the day.",
        ),
        terms=_TERMS_NO_RESALE,
        min_amount=5000,
        max_amount=50000,
        has_pin=True,
        redemption_url=None,
    ),
    DemoBrand(
        slug="kinetic-fitness-studio",
        name="Kinetic Fitness Studio",
        category="Health & Beauty",
        description="Yoga, spin and strength classes with coaches who cheer you on.",
        color="#f97316",
        redemption_instructions=_ONLINE,
        terms=_TERMS,
        min_amount=2000,
        max_amount=30000,
        redemption_url=_url("kinetic-fitness-studio"),
    ),
    DemoBrand(
        slug="lavender-lane-salon",
        name="Lavender Lane Salon",
        category="Health & Beauty",
        description="Cuts, colour and blow-dries in a bright, friendly salon.",
        color="#7e22ce",
        redemption_instructions=_IN_STORE,
        terms=_TERMS,
        denominations=_STANDARD,
        has_pin=True,
        redemption_url=_url("lavender-lane-salon", pin=True, host="book.example.com"),
    ),
)


def _amount_ok(value: object) -> bool:
    return type(value) is int and value > 0


def _url_problems(brand: DemoBrand) -> list[str]:
    url = brand.redemption_url
    if url is None:
        return []
    problems = []
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" or not any(host == d or host.endswith("." + d) for d in _EXAMPLE_DOMAINS):
        problems.append(f"redemption_url must be https on an example domain: {url}")
    try:
        fields = {f for _, f, _, _ in Formatter().parse(url) if f is not None}
    except ValueError:
        return problems + [f"redemption_url is not a valid template: {url}"]
    if "code" not in fields:
        problems.append("redemption_url must contain {code}")
    if not fields <= _PLACEHOLDERS:
        problems.append(f"redemption_url has unknown placeholders: {sorted(fields - _PLACEHOLDERS)}")
    if "pin" in fields and not brand.has_pin:
        problems.append("redemption_url uses {pin} but the brand has no PIN")
    return problems


def brand_problems(brand: DemoBrand) -> list[str]:
    """Everything wrong with one brand, as messages (an empty list when it is valid)."""
    problems: list[str] = []
    if not _SLUG.match(brand.slug):
        problems.append("slug must be lowercase words joined by dashes")
    for field in ("name", "description", "terms"):
        if not getattr(brand, field).strip():
            problems.append(f"{field} must not be blank")
    if brand.category not in CATEGORIES:
        problems.append(f"unknown category '{brand.category}'")
    if not _HEX.match(brand.color):
        problems.append(f"color '{brand.color}' must be #rrggbb in lower case")
    if not brand.currencies or len(set(brand.currencies)) != len(brand.currencies):
        problems.append("currencies must be a non-empty tuple without repeats")
    problems += [f"currency '{c}' must be three upper-case letters" for c in brand.currencies if not _CURRENCY.match(c)]
    if brand.denominations:
        if not all(_amount_ok(a) for a in brand.denominations):
            problems.append("denominations must be positive int minor units")
        elif list(brand.denominations) != sorted(set(brand.denominations)):
            problems.append("denominations must be strictly increasing")
        if brand.min_amount is not None or brand.max_amount is not None:
            problems.append("a brand has denominations or a min..max range, not both")
    elif not (_amount_ok(brand.min_amount) and _amount_ok(brand.max_amount)):
        problems.append("a variable brand needs positive int min_amount and max_amount")
    elif brand.min_amount >= brand.max_amount:  # type: ignore[operator]
        problems.append("min_amount must be below max_amount")
    steps = brand.redemption_instructions.split("\n")
    numbers = [int(m.group(1)) for m in map(_STEP.match, steps) if m]
    if not 2 <= len(steps) <= 4 or numbers != list(range(1, len(steps) + 1)):
        problems.append("redemption_instructions must be 2-4 lines numbered '1. ', '2. ', ...")
    problems += _url_problems(brand)
    return [f"{brand.slug}: {p}" for p in problems]


def validate_demo_brands(brands: Sequence[DemoBrand] = DEMO_BRANDS) -> None:
    """Raise ValueError listing every broken invariant of the catalog (works under python -O)."""
    problems = [p for brand in brands for p in brand_problems(brand)]
    for label, values in (("slug", [b.slug for b in brands]), ("name", [b.name for b in brands])):
        problems += [f"duplicate {label} '{v}'" for v, n in Counter(values).items() if n > 1]
    per_category = Counter(b.category for b in brands)
    if set(per_category) != set(CATEGORIES):
        problems.append(f"brands must cover exactly the {len(CATEGORIES)} categories, got {sorted(per_category)}")
    problems += [f"category '{c}' has {n} brands, expected 4-6" for c, n in per_category.items() if not 4 <= n <= 6]
    if problems:
        raise ValueError("invalid demo brands:\n" + "\n".join(problems))
