"""The store's catalog as a consumer asks for it: the search read from the query string, and the brand page's
amount picker priced as they choose. The store's pages and the portal's branding preview use the same ones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from app.domain.errors import InvalidInput, sentence
from app.domain.money import Money, minor_digits
from app.domain.paging import page_number
from app.domain.pricing import Quote
from app.services import catalog, consumers
from app.services.catalog import Offer

CATALOG_PAGE_SIZE = 24
ANY_CAMPAIGN = "any"


@dataclass(frozen=True)
class CatalogSearch:
    """What the consumer asked the catalog for, read from the query string."""

    q: str = ""
    category: str = ""
    sort: str = "name"
    page: int = 1
    campaign: str = ""  # what campaign balances can buy: "" (no such filter), "any" (any of mine), or a campaign's id

    @classmethod
    def from_args(cls, args) -> CatalogSearch:
        sort = args.get("sort", "name")
        campaign = args.get("campaign", "").strip()
        return cls(
            q=args.get("q", "").strip()[:80],
            category=args.get("category", "").strip()[:60],
            sort=sort if sort in catalog.SORTS else "name",
            page=page_number(args.get("page")),
            campaign=campaign if campaign == ANY_CAMPAIGN or (campaign.isdigit() and len(campaign) <= 12) else "",
        )

    @property
    def narrowed(self) -> bool:
        return bool(self.q or self.category or self.campaign)

    def paid_by(self, spendable: list[consumers.CampaignBalance]) -> list[consumers.CampaignBalance] | None:
        """The campaign balances the catalog is narrowed to (None: not narrowed; a balance the consumer doesn't
        have, or can't spend now, narrows to nothing)."""
        if not self.campaign:
            return None
        return [c for c in spendable if self.campaign in (ANY_CAMPAIGN, str(c.campaign_id))]

    def link_args(self, page: int) -> dict:
        """Query-string arguments for `url_for('store.home', ...)` keeping this search, on `page`."""
        args = {
            "q": self.q or None,
            "category": self.category or None,
            "sort": self.sort if self.sort != "name" else None,
            "campaign": self.campaign or None,
        }
        return {key: value for key, value in args.items() if value} | ({"page": page} if page > 1 else {})


# A plain decimal amount in major units. Anything else (exponents, signs, words) is refused before
# it is parsed: '1e999999999' would otherwise become a billion-digit integer.
_AMOUNT = re.compile(r"\d{1,9}(?:\.\d{0,9})?|\.\d{1,9}")
_NEGATIVE = re.compile(r"-\s*(?:" + _AMOUNT.pattern + ")")


def amount_pattern(currency: str) -> str:
    """The amount field's HTML `pattern`: what the server takes, so the browser refuses '1e2' or '-20' too."""
    digits = minor_digits(currency)
    return rf"[0-9]{{1,9}}(\.[0-9]{{0,{digits}}})?" if digits else "[0-9]{1,9}"


@dataclass(frozen=True)
class AmountChoice:
    """The brand page's amount picker and the quote for the amount picked."""

    offer: Offer
    currency: str
    payable: bool  # the consumer has a wallet in `currency`
    amount: str  # as typed or chosen, in major units
    quote: Quote | None
    problem: str | None
    spendable: Money | None = None  # what the consumer's balances can pay for this brand now, in `currency`

    @property
    def over_wallet(self) -> bool:
        """The price is more than the consumer can spend on this card: said before the review, not only there."""
        return self.quote is not None and self.spendable is not None and self.quote.price.amount > self.spendable.amount

    @property
    def pattern(self) -> str:
        return amount_pattern(self.currency)

    @property
    def denominations(self) -> list[Money]:
        return [Money(amount, self.currency) for amount in self.offer.brand.denomination_list]

    @property
    def low(self) -> Money:
        return Money(self.offer.brand.min_amount or 0, self.currency)

    @property
    def high(self) -> Money:
        return Money(self.offer.brand.max_amount or 0, self.currency)

    @property
    def step(self) -> Decimal:
        return Decimal(1).scaleb(-minor_digits(self.currency))

    @property
    def chosen_minor(self) -> int | None:
        return self.quote.face_value.amount if self.quote else None

    @property
    def discount_percent(self) -> str | None:
        percent = Decimal(self.offer.settings.discount_percent).normalize()
        return f"{percent:f}" if percent else None

    @property
    def fee(self) -> Money | None:
        return Money(self.offer.settings.fee, self.currency) if self.offer.settings.fee else None

    @property
    def bonus_percent(self) -> str:
        return f"{Decimal(self.offer.settings.bonus_percent).normalize():f}"


def amount_choice(offer: Offer, raw: str | None, wallets: list[consumers.Wallet]) -> AmountChoice:
    """Price `raw` (major units; None: the first denomination or the lowest amount) in the currency the consumer can pay in."""
    held = [wallet.currency for wallet in wallets]
    sold = offer.brand.currency_list or ["USD"]
    currency = next((code for code in held if code in sold), sold[0])
    if raw is None:
        denominations = offer.brand.denomination_list
        raw = str(Money(denominations[0] if denominations else offer.brand.min_amount or 0, currency).to_decimal())
    raw = raw.strip()
    quote_, problem = None, None
    if not raw:
        problem = "Choose an amount." if offer.brand.denomination_list else "Enter an amount."
    elif _NEGATIVE.fullmatch(raw):  # a number, below the range: say the range
        problem = offer.amount_problem(Money(-1, currency))
    elif not _AMOUNT.fullmatch(raw):
        problem = "Enter the amount as a number, like 25 or 25.50."
    else:
        try:
            quote_ = offer.quote(Money.parse(raw, currency))
        except InvalidInput as error:
            problem = sentence(error.message)
    return AmountChoice(offer, currency, currency in held, raw[:40], quote_, problem, _spendable(wallets, offer, currency))


def _spendable(wallets: list[consumers.Wallet], offer: Offer, currency: str) -> Money | None:
    """General and bonus balances, and the campaign balances that pay for this brand (None: no wallet in `currency`)."""
    wallet = next((wallet for wallet in wallets if wallet.currency == currency), None)
    if wallet is None:
        return None
    total = wallet.general + wallet.bonus
    for campaign in consumers.campaigns_paying_for(wallets, offer.brand, currency):
        total = total + campaign.balance
    return total
