"""Pydantic models of the partner API: they validate request bodies and query strings, shape
responses, and are the single source of the OpenAPI document (app/api/openapi.py).

Money is a JSON *number* read as Decimal (the body is parsed with `parse_float=Decimal`), never
a float; a string, a boolean or a float is refused. Responses are dumped in Python mode so
Decimals reach app/api/responses.dumps, which writes them as exact JSON numbers.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

from app.api.responses import ApiError, iso_utc, money_number
from app.domain.money import Money

if TYPE_CHECKING:
    from app.models import Brand, Order as OrderRow


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
OutNumber = Annotated[Decimal, WithJsonSchema({"type": "number"})]
CurrencyCode = Annotated[
    str, Field(min_length=3, max_length=3, description="ISO 4217 code, any case (usd, EUR)", examples=["usd"])
]


MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Field(default=None, ge=1, le=MAX_ID)]
PageNumber = Annotated[int, Field(default=1, ge=1, le=100_000)]
PerPage = Annotated[int, Field(default=20, ge=1, le=100)]
REFERENCE_PATTERN = r"^[A-Za-z0-9_.:/-]+$"
ORDER_STATUS = Literal["pending", "completed", "failed"]
WEBHOOK_EVENT = Literal["order.completed", "order.failed"]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=False)


# --- requests -----------------------------------------------------------------------------


class CustomerCreate(ApiModel):
    """The seed's "Create Customer" body."""

    fullName: str = Field(min_length=1, max_length=200, examples=["John Doe"])
    email: str = Field(min_length=3, max_length=254, examples=["john.doe@example.com"])
    currency: CurrencyCode
    initialFunds: Annotated[JsonNumber, Field(ge=0, examples=[100], json_schema_extra={"minimum": 0})]

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
    senderName: str | None = Field(default=None, max_length=200, description="Shown to the recipient; the customer's name when left out")
    message: str = Field(default="", max_length=300)
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

    model_config = ConfigDict(extra="ignore")


class WebhookCreate(ApiModel):
    url: str = Field(min_length=1, max_length=500, description="An HTTPS URL on the public internet", examples=["https://partner.example.com/hooks/giftstore"])
    events: list[WEBHOOK_EVENT] = Field(
        default=["order.completed", "order.failed"], min_length=1, max_length=2, description="Leave out for both"
    )


class DeliveryQuery(ApiModel):
    """Query string of GET /webhooks/{webhookId}/deliveries."""

    status: Literal["pending", "delivered", "failed"] | None = None
    page: PageNumber
    perPage: PerPage

    model_config = ConfigDict(extra="ignore")


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


class Customer(ApiModel):
    id: int
    fullName: str
    email: str
    status: Literal["active", "inactive"]
    createdAt: str = Field(description="ISO 8601, UTC")
    wallets: list[WalletBalance]


T = TypeVar("T")


class Page(ApiModel, Generic[T]):
    items: list[T]
    page: int
    perPage: int
    total: int


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
    activeNow: bool


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


class OrderRecipient(ApiModel):
    email: str
    name: str
    isCustomer: bool = Field(description="The card went to the customer themself")


class OrderCard(ApiModel):
    number: str
    pin: str | None
    redemptionUrl: str | None


class Order(ApiModel):
    id: str = Field(description="The order's public id", examples=["ord_3f2a9c0d1e4b5a69"])
    externalRefId: str | None
    channel: str = Field(description="Where it was placed: api, store or portal")
    status: ORDER_STATUS
    customerId: int
    brand: str
    brandName: str
    currency: str
    amount: OutNumber = Field(description="Face value chosen")
    price: OutNumber = Field(description="What the customer's wallet paid")
    cardValue: OutNumber = Field(description="What the card is worth (with a value bonus)")
    cashBonus: OutNumber = Field(description="Paid back into the bonus balance when the order completes")
    recipient: OrderRecipient
    senderName: str
    message: str
    failureReason: str | None
    createdAt: str
    completedAt: str | None
    card: OrderCard | None = Field(description="Only in GET /orders/{publicId} and POST /orders, once completed")


class OrderPage(Page[Order]):
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


class TransactionPage(Page[LedgerTransaction]):
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
    type: WEBHOOK_EVENT
    createdAt: str
    data: OrderEventData


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
            message = message[len("Value error, "):]
        raise ApiError(400, "VALIDATION_ERROR", f"{field}: {message}.".replace("..", ".")) from None


# --- responses from the tables ------------------------------------------------------------


def order_data(order: OrderRow, brand: Brand, card: OrderCard | None = None) -> dict:
    """The Order schema for one order; `card` only where the card may be shown."""
    money = lambda amount: money_number(Money(amount, order.currency))  # noqa: E731
    return Order(
        id=order.public_id,
        externalRefId=order.external_ref,
        channel=order.channel,
        status=order.status,
        customerId=order.consumer_id,
        brand=brand.slug,
        brandName=brand.name,
        currency=order.currency,
        amount=money(order.face_value),
        price=money(order.price),
        cardValue=money(order.card_value),
        cashBonus=money(order.cash_back),
        recipient=OrderRecipient(email=order.recipient_email, name=order.recipient_name, isCustomer=order.to_self),
        senderName=order.sender_name,
        message=order.message,
        failureReason=order.failure_reason or None,
        createdAt=iso_utc(order.created_at),
        completedAt=iso_utc(order.completed_at),
        card=card,
    ).model_dump()
