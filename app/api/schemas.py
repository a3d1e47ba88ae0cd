"""Pydantic models of the partner API: they validate request bodies and query strings, shape
responses, and are the single source of the OpenAPI document (app/api/openapi.py).

Money is a JSON *number* read as Decimal (the body is parsed with `parse_float=Decimal`), never
a float; a string, a boolean or a float is refused. Responses are dumped in Python mode so
Decimals reach app/api/responses.dumps, which writes them as exact JSON numbers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

from app.api.responses import ApiError
from app.domain import paging
from app.representations import (  # noqa: F401  (the order as partners read it: shared with webhooks)
    ORDER_STATUS,
    ApiModel,
    Campaign,
    Order,
    OrderCard,
    OrderDelivery,
    OrderRecipient,
    OutNumber,
    order_data,
)


def _json_number(value):
    """Only a JSON number: int or Decimal (from parse_float=Decimal). Not a string, a bool or a float."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError("must be a number")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("must be a finite number")
    return Decimal(value)


JsonNumber = Annotated[
    Decimal,
    BeforeValidator(_json_number),
    WithJsonSchema({"type": "number", "description": "A JSON number in major units, e.g. 100.00"}),
]
CurrencyCode = Annotated[
    str, Field(min_length=3, max_length=3, description="ISO 4217 code, any case (usd, EUR)", examples=["usd"])
]


MAX_ID = paging.MAX_ID  # ids are 32-bit in the database: a longer number is simply not found (the one limit)


def _cursor_row(value: str | None) -> str | None:
    """A cursor is the id of the row a page ends at: past MAX_ID it names no row, so it can't come from nextCursor."""
    if value is not None and int(value) > MAX_ID:
        raise ValueError("is not a cursor from nextCursor")
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Field(default=None, ge=1, le=MAX_ID)]
PageNumber = Annotated[int, Field(default=1, ge=1, le=100_000)]
PerPage = Annotated[int, Field(default=20, ge=1, le=100)]
COUNT_CAP = 10_000  # a list's `total` is exact up to this many rows; past it, this number and totalIsExact false
Cursor = Annotated[
    str | None,
    Field(
        default=None,
        pattern=r"^[1-9][0-9]{0,9}$",
        description="Where the page starts: the nextCursor of the page before (opaque: send it back as it came). "
        "Leave page out with a cursor.",
        examples=["40213"],
    ),
    AfterValidator(_cursor_row),
]
REFERENCE_PATTERN = r"^[A-Za-z0-9_.:/-]+$"
ORDER_EVENT = Literal["order.completed", "order.failed", "order.cancelled"]
CAMPAIGN_EVENT = Literal["campaign.ended", "campaign.budget_low"]
WEBHOOK_EVENT = Literal["order.completed", "order.failed", "order.cancelled", "campaign.ended", "campaign.budget_low"]


# --- requests -----------------------------------------------------------------------------


class CustomerCreate(ApiModel):
    """The seed's "Create Customer" body."""

    fullName: str = Field(min_length=1, max_length=200, examples=["John Doe"])
    email: str = Field(min_length=3, max_length=254, examples=["john.doe@example.com"])
    currency: CurrencyCode
    initialFunds: Annotated[JsonNumber, Field(ge=0, examples=[100], json_schema_extra={"minimum": 0})]
    idempotencyKey: str | None = Field(
        default=None,
        min_length=8,
        max_length=80,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Optional (or the Idempotency-Key header): the same key with the same request returns the first "
        "answer (the same customer) instead of the duplicate-customer 400; with another request it is a 400.",
        examples=["customer-2026-000042"],
    )

    model_config = ConfigDict(extra="ignore")


class FundsChange(ApiModel):
    """Add money to (credit) or take it from (debit) a customer's general wallet."""

    amount: Annotated[JsonNumber, Field(gt=0, examples=[25], json_schema_extra={"exclusiveMinimum": 0})]
    currency: CurrencyCode
    reason: str = Field(min_length=1, max_length=200, examples=["Quarterly reward"])
    idempotencyKey: str = Field(
        min_length=8,
        max_length=80,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Unique per request you mean once; repeating it returns the first result.",
        examples=["reward-2026-q1-000042"],
    )


Tag = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        description="1-40 letters, digits, - or _; kept in lower case",
        examples=["vip"],
    ),
]


class CustomerTags(ApiModel):
    """PUT /customers/{customerId}/tags: the customer's tags from now on (they replace the ones they had)."""

    tags: list[Tag] = Field(max_length=20, description="At most 20; [] removes them all", examples=[["vip", "new-york"]])


class CustomerQuery(ApiModel):
    """Query string of GET /customers."""

    email: str | None = Field(default=None, max_length=254)
    status: Literal["active", "inactive"] | None = None
    page: int = Field(default=1, ge=1, le=100_000)
    perPage: int = Field(default=20, ge=1, le=100)

    model_config = ConfigDict(extra="ignore")


class CatalogQuery(ApiModel):
    """Query string of GET /catalog."""

    currency: CurrencyCode | None = None
    category: str | None = Field(default=None, max_length=60, description="Exact category name, e.g. Food & Dining")
    page: PageNumber
    perPage: PerPage

    model_config = ConfigDict(extra="ignore")


class RecipientIn(ApiModel):
    email: str = Field(min_length=3, max_length=254, examples=["friend@example.com"])
    name: str = Field(default="", max_length=200, examples=["Sam Friend"])


class OrderCreate(ApiModel):
    """A gift card bought with a customer's wallet balance, on their behalf."""

    customerId: Annotated[Id, Field(examples=[1])]
    brand: str = Field(min_length=1, max_length=60, description="The brand's slug, from GET /catalog", examples=["bluefin-sushi"])
    amount: Annotated[JsonNumber, Field(gt=0, examples=[25], json_schema_extra={"exclusiveMinimum": 0})]
    currency: CurrencyCode
    recipient: RecipientIn | None = Field(default=None, description="Who gets the card; leave out to send it to the customer")
    senderName: str | None = Field(
        default=None, max_length=200, description="Shown to the recipient; the customer's name when left out"
    )
    message: str = Field(default="", max_length=300)
    deliverAt: str | None = Field(
        default=None,
        max_length=40,
        description="Schedule the gift: ISO 8601 with an offset (2026-12-24T09:00:00+01:00 or ...Z), after now and at "
        "most a year ahead. The wallet is charged now; the card is issued and emailed then, and until then the "
        "order is scheduled and can be cancelled. Leave out to send at once.",
        examples=["2026-12-24T09:00:00+01:00"],
    )
    externalRefId: str = Field(
        min_length=1,
        max_length=80,
        pattern=REFERENCE_PATTERN,
        description="Your reference for this order, unique per partner: sending it again returns the same order.",
        examples=["PO-2026-000123"],
    )


class OrderQuery(ApiModel):
    """Query string of GET /orders."""

    status: ORDER_STATUS | None = None
    customerId: OptionalId
    externalRefId: str | None = Field(default=None, max_length=80, pattern=REFERENCE_PATTERN)
    from_: date | None = Field(default=None, alias="from", description="Created on or after this day (UTC), YYYY-MM-DD")
    to: date | None = Field(default=None, description="Created on or before this day (UTC), YYYY-MM-DD")
    page: PageNumber
    perPage: PerPage
    cursor: Cursor

    model_config = ConfigDict(extra="ignore")


class TransactionQuery(ApiModel):
    """Query string of GET /transactions."""

    type: Literal["credit", "debit", "rebate", "refund", "adjustment"] | None = None
    status: Literal["completed", "pending", "failed"] | None = None
    customerId: OptionalId
    from_: date | None = Field(default=None, alias="from", description="Created on or after this day (UTC), YYYY-MM-DD")
    to: date | None = Field(default=None, description="Created on or before this day (UTC), YYYY-MM-DD")
    page: PageNumber
    perPage: PerPage
    cursor: Cursor

    model_config = ConfigDict(extra="ignore")


class WebhookCreate(ApiModel):
    url: str = Field(
        min_length=1,
        max_length=500,
        description="An HTTPS URL on the public internet",
        examples=["https://partner.example.com/hooks/giftstore"],
    )
    events: list[WEBHOOK_EVENT] = Field(
        default=["order.completed", "order.failed"],
        min_length=1,
        max_length=5,
        description="Leave out for order.completed and order.failed (order.cancelled: a scheduled gift its sender took back)",
    )


class DeliveryQuery(ApiModel):
    """Query string of GET /webhooks/{webhookId}/deliveries."""

    status: Literal["pending", "delivered", "failed"] | None = None
    page: PageNumber
    perPage: PerPage

    model_config = ConfigDict(extra="ignore")


def _moment_text(value):
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date and time with a time zone, e.g. 2026-12-31T23:59:59Z")
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


Moment = Annotated[
    AwareDatetime,
    BeforeValidator(_moment_text),
    AfterValidator(_in_utc),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "description": "ISO 8601 with a time zone, e.g. 2026-12-31T23:59:59Z"}
    ),
]
IdempotencyKey = Annotated[
    str,
    Field(
        min_length=8,
        max_length=80,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Unique per request you mean once; repeating it returns the first result.",
        examples=["campaign-2026-wellness"],
    ),
]
CampaignName = Annotated[str, Field(min_length=1, max_length=120, examples=["Wellness"])]
BrandSlugs = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=60)]],
    Field(
        max_length=200,
        description="Brand slugs (from GET /catalog) it pays for; leave brands and categories empty for every brand",
        examples=[["calm-spa"]],
    ),
]
Categories = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=60)]],
    Field(max_length=200, description="Catalog categories it pays for, e.g. Health & Beauty", examples=[["Health & Beauty"]]),
]
Priority = Annotated[int, Field(ge=0, le=1000, description="Higher is spent first")]
CAMPAIGN_STATUS = Literal["scheduled", "active", "paused", "ended"]


class RecurrenceIn(ApiModel):
    """Repeat the allocation: every week (from Monday 00:00) or month (from the 1st 00:00), in the partner's time zone."""

    every: Literal["week", "month"]
    leftover: Literal["expire", "rollover"] = Field(
        default="expire", description="What a member has left at a period's end: expires back to the budget, or rolls over"
    )
    rolloverCap: Annotated[
        JsonNumber | None,
        Field(
            default=None,
            ge=0,
            json_schema_extra={"minimum": 0},
            description="Only with rollover: the most a member keeps; above it goes back to the budget. Leave out: no cap",
        ),
    ]


LowBudgetThreshold = Annotated[
    JsonNumber | None,
    Field(
        default=None,
        gt=0,
        json_schema_extra={"exclusiveMinimum": 0},
        description="Admins get one email (and campaign.budget_low fires) when the remaining budget falls below it; "
        "also when it can't pay the next allocations. null: only the latter",
    ),
]


class CampaignCreate(ApiModel):
    """A campaign: its budget comes out of the partner's funds at once."""

    name: CampaignName
    currency: CurrencyCode
    budget: Annotated[JsonNumber, Field(ge=0, examples=[500], json_schema_extra={"minimum": 0})]
    perCustomerAmount: Annotated[JsonNumber, Field(gt=0, examples=[50], json_schema_extra={"exclusiveMinimum": 0})]
    brands: BrandSlugs = []
    categories: Categories = []
    startsAt: Moment | None = Field(default=None, description="Leave out to start now")
    endsAt: Moment | None = Field(default=None, description="Leave out for no end")
    priority: Priority = 0
    eligibleTag: Tag | None = Field(
        default=None,
        description="Leave out (or null) for the customers you add as members; a tag for every customer with it: they "
        "join with perCustomerAmount now and whenever a customer gets the tag, while the campaign is active with budget",
    )
    eligibleCreatedAfter: Moment | None = Field(default=None, description="With eligibleTag: only customers created after it")
    returnUnusedOnEnd: bool = Field(default=False, description="At its end, return the remaining budget to partner funds")
    recurrence: RecurrenceIn | None = Field(default=None, description="Leave out (or null): allocated once, when a member joins")
    lowBudgetThreshold: LowBudgetThreshold
    pauseWhenExhausted: bool = Field(
        default=False, description="Pause the campaign by itself when its budget can't pay a member's allocation"
    )
    idempotencyKey: IdempotencyKey


class CampaignUpdate(ApiModel):
    """Changes from now on: allocations already made keep their amount. Leave a field out to keep it."""

    name: CampaignName | None = None
    endsAt: Moment | None = Field(default=None, description="null removes the end date")
    brands: BrandSlugs | None = None
    categories: Categories | None = None
    perCustomerAmount: Annotated[
        JsonNumber | None,
        Field(default=None, gt=0, json_schema_extra={"exclusiveMinimum": 0}, description="For members added from now on"),
    ]
    priority: Priority | None = None
    eligibleTag: Tag | None = Field(
        default=None, description="null: back to the customers added as members; a tag: every customer with it joins now"
    )
    eligibleCreatedAfter: Moment | None = Field(default=None, description="null removes the date")
    returnUnusedOnEnd: bool | None = None
    recurrence: RecurrenceIn | None = Field(
        default=None, description="null: no more repeats; a new repeat's first allocation comes at the next period start"
    )
    lowBudgetThreshold: LowBudgetThreshold
    pauseWhenExhausted: bool | None = None


class CampaignQuery(ApiModel):
    """Query string of GET /campaigns."""

    status: CAMPAIGN_STATUS | None = None
    page: PageNumber
    perPage: PerPage

    model_config = ConfigDict(extra="ignore")


class CampaignBudgetChange(ApiModel):
    amount: Annotated[
        JsonNumber,
        Field(
            examples=[100], description="Positive: more from partner funds; negative: unallocated budget back to partner funds"
        ),
    ]
    idempotencyKey: IdempotencyKey


class CampaignMembersAdd(ApiModel):
    customerIds: list[Id] = Field(min_length=1, max_length=500, examples=[[1, 2]])


# --- responses ----------------------------------------------------------------------------


class CreatedCustomer(ApiModel):
    """The seed's "Create Customer" response data."""

    id: int
    walletId: str
    fullName: str
    email: str
    walletBalance: OutNumber
    currency: str


class WalletBalance(ApiModel):
    walletId: str
    currency: str
    walletBalance: OutNumber = Field(description="General wallet: what the partner funds")
    bonusBalance: OutNumber


class CampaignWallet(ApiModel):
    """A campaign balance: spent first, on the brands its campaign allows, until spendableUntil."""

    kind: Literal["campaign"]
    campaignId: int
    name: str
    balance: OutNumber
    currency: str
    spendableUntil: str | None = Field(description="ISO 8601, UTC; null: no end date")


class Customer(ApiModel):
    id: int
    fullName: str
    email: str
    status: Literal["active", "inactive"]
    createdAt: str = Field(description="ISO 8601, UTC")
    wallets: list[WalletBalance | CampaignWallet] = Field(
        description="A general wallet (with its bonus balance) per currency; GET /customers/{customerId} also lists "
        "the customer's campaign balances (kind campaign)"
    )
    tags: list[str] = Field(
        default_factory=list,
        description="The customer's tags, sorted (PUT /customers/{customerId}/tags): campaigns for everyone with a tag "
        "and bonuses for a tag use them",
        examples=[["new-york", "vip"]],
    )


T = TypeVar("T")


class Page(ApiModel, Generic[T]):
    """A page of a list as JSON: the API's representation of a service's Page (app/domain/paging.py)."""

    items: list[T]
    page: int
    perPage: int
    total: int

    @classmethod
    def shown(cls, page: paging.Page, items: list[dict]) -> dict:
        """The service's `page` as this JSON, its rows already shown as `items` (dicts in the API's shape)."""
        shown = cls(items=[], page=page.number, perPage=page.size, total=page.total).model_dump()
        shown["items"] = items
        return shown


class CursorPage(Page[T], Generic[T]):
    """A page of a list read newest first, which can go on from a cursor: the API's representation of a service's
    CursorPage (app/domain/paging.py). `total` is exact up to COUNT_CAP rows (totalIsExact); past it, COUNT_CAP."""

    totalIsExact: bool = Field(
        description=f"False when the list holds more than {COUNT_CAP:,} rows: total then says {COUNT_CAP:,} (counting "
        "further would cost every request the time to read the whole list)"
    )
    nextCursor: str | None = Field(
        description="Send it as cursor for the next (older) page; null on the last page. Paging by cursor reads "
        "each page as fast however deep it is, and shows no row twice nor skips one while new rows arrive."
    )

    @classmethod
    def shown(cls, page: paging.Page, items: list[dict]) -> dict:
        """The service's CursorPage `page` as this JSON, its rows already shown as `items`."""
        assert isinstance(page, paging.CursorPage)
        shown = cls(
            items=[],
            page=page.number,
            perPage=page.size,
            total=page.total,
            totalIsExact=page.total_is_exact,
            nextCursor=None if page.older is None else str(page.older),
        ).model_dump()
        shown["items"] = items
        return shown


class CustomerPage(Page[Customer]):
    pass


class FundsResult(ApiModel):
    transactionId: int
    customerId: int
    walletBalance: OutNumber
    currency: str


class CurrencyBalance(ApiModel):
    currency: str
    available: OutNumber


class Balance(ApiModel):
    balances: list[CurrencyBalance]


class BrandAmounts(ApiModel):
    """What can be bought in one currency: fixed denominations, or any amount from min to max."""

    currency: str
    denominations: list[OutNumber] | None = Field(description="Null when any amount from minAmount to maxAmount goes")
    minAmount: OutNumber | None
    maxAmount: OutNumber | None
    fee: OutNumber = Field(description="Added to the price of each card")


class Bonus(ApiModel):
    type: Literal["value", "cash"] = Field(description="value: the card is worth more; cash: paid back into the bonus balance")
    percent: OutNumber
    promoStartsAt: str | None = Field(description="ISO 8601, UTC; null: no start")
    promoEndsAt: str | None = Field(description="ISO 8601, UTC; null: no end")
    activeNow: bool = Field(description="Inside its promotion now (for the customers it is for)")
    segment: str | None = Field(
        default=None,
        description="The tag of the customers the bonus is for (PUT /customers/{customerId}/tags); null: every customer. "
        "An order for a customer without the tag gets no bonus.",
        examples=["vip"],
    )


class CatalogBrand(ApiModel):
    slug: str
    name: str
    category: str
    description: str
    currencies: list[str]
    denominationType: Literal["fixed", "variable"]
    amounts: list[BrandAmounts]
    discountPercent: OutNumber = Field(description="Price = amount - discountPercent % (rounded down) + fee")
    bonus: Bonus | None
    hasPin: bool


class CatalogPage(Page[CatalogBrand]):
    pass


class OrderPage(CursorPage[Order]):
    pass


class LedgerTransaction(ApiModel):
    id: int
    type: Literal["credit", "debit", "rebate", "refund", "adjustment"]
    status: Literal["completed", "pending", "failed"]
    customerId: int | None = Field(description="Null for the partner's own funds")
    orderId: str | None = Field(description="The order's public id, when it concerns one")
    currency: str
    amount: OutNumber
    memo: str
    createdAt: str


class TransactionPage(CursorPage[LedgerTransaction]):
    pass


class Webhook(ApiModel):
    id: int
    url: str
    events: list[WEBHOOK_EVENT]
    active: bool
    createdAt: str


class CreatedWebhook(Webhook):
    secret: str = Field(description="Signs every delivery; shown only in this answer")


class WebhookList(ApiModel):
    items: list[Webhook]


class WebhookAttempt(ApiModel):
    attemptedAt: str
    statusCode: int | None
    error: str
    durationMs: int


class WebhookDelivery(ApiModel):
    id: int
    eventId: str
    event: WEBHOOK_EVENT
    orderId: str | None
    status: Literal["pending", "delivered", "failed"]
    attemptCount: int
    lastStatusCode: int | None
    lastError: str
    createdAt: str
    deliveredAt: str | None
    payload: dict[str, Any] = Field(description="The exact JSON body sent")
    attempts: list[WebhookAttempt]


class DeliveryPage(Page[WebhookDelivery]):
    pass


class OrderEventData(ApiModel):
    order: Order


class WebhookEvent(ApiModel):
    """The body of every webhook POST. Headers: x-client-id, x-timestamp, x-signature (the request
    scheme, with the webhook's secret), x-event-id, x-event-type."""

    id: str = Field(description="The event id, also in x-event-id: the same on every retry")
    type: ORDER_EVENT
    createdAt: str
    data: OrderEventData


class CampaignEventData(ApiModel):
    campaign: Campaign


class CampaignWebhookEvent(ApiModel):
    """The body of a campaign event's POST (headers as for WebhookEvent)."""

    id: str = Field(description="The event id, also in x-event-id: the same on every retry")
    type: CAMPAIGN_EVENT
    createdAt: str
    data: CampaignEventData


class CampaignPage(Page[Campaign]):
    pass


class CampaignBudgetResult(ApiModel):
    transactionId: int = Field(description="The same on a repeat of the idempotencyKey")
    amount: OutNumber
    currency: str
    remaining: OutNumber = Field(description="The budget not allocated, after the change")
    campaign: Campaign


class MemberResult(ApiModel):
    customerId: int
    result: Literal["allocated", "already_member", "not_found", "insufficient_budget", "inactive"]
    allocated: OutNumber | None = Field(description="Put in their campaign balance, when the result is allocated")


class MemberResults(ApiModel):
    results: list[MemberResult] = Field(description="One per customer id, in the order sent (repeats once)")
    campaign: Campaign


class MemberRemoved(ApiModel):
    customerId: int
    returned: OutNumber = Field(description="Their unused campaign balance, back in the budget")
    campaign: Campaign


class CampaignEnded(ApiModel):
    returnedToBudget: OutNumber = Field(description="Members' unused balances, back in the budget")
    returnedToPartner: OutNumber = Field(description="The budget back in partner funds (returnUnusedOnEnd)")
    campaign: Campaign


class CampaignReturned(ApiModel):
    returned: OutNumber = Field(description="The unallocated budget moved back to partner funds (maybe zero)")
    campaign: Campaign


class ErrorDetail(ApiModel):
    error: str = Field(examples=["VALIDATION_ERROR"])
    message: str


class ErrorEnvelope(ApiModel):
    success: Literal[False]
    error: ErrorDetail


class Forbidden(ApiModel):
    """Every authentication failure, as the seed prints it."""

    Message: str = Field(
        examples=["User is not authorized to access this resource with an explicit deny in an identity-based policy"]
    )


# --- validation ---------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


def _field_name(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _nul_in(data, path: tuple = ()) -> tuple | None:
    """Where a NUL character hides in `data` (no database stores it in text), or None."""
    if isinstance(data, str):
        return path if "\x00" in data else None
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        if isinstance(key, str) and "\x00" in key:
            return path + (key,)
        found = _nul_in(value, path + (key,))
        if found is not None:
            return found
    return None


def validate(model: type[M], data) -> M:
    """`model` from `data`, or a 400 VALIDATION_ERROR whose message starts with the field's name."""
    nul = _nul_in(data)
    if nul is not None:
        raise ApiError(400, "VALIDATION_ERROR", f"{_field_name(nul)}: must not contain NUL characters.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = _field_name(first.get("loc", ()))
        message = first.get("msg", "is not valid")
        if first.get("type") == "missing":
            message = "is required"
        elif first.get("type") == "extra_forbidden":
            message = "is not a known field"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        raise ApiError(400, "VALIDATION_ERROR", f"{field}: {message}.".replace("..", ".")) from None
