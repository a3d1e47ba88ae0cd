"""Pydantic models of the partner API: they validate request bodies and query strings, shape
responses, and are the single source of the OpenAPI document (app/api/openapi.py).

Money is a JSON *number* read as Decimal (the body is parsed with `parse_float=Decimal`), never
a float; a string, a boolean or a float is refused. Responses are dumped in Python mode so
Decimals reach app/api/responses.dumps, which writes them as exact JSON numbers.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

from app.api.responses import ApiError


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


def validate(model: type[M], data) -> M:
    """`model` from `data`, or a 400 VALIDATION_ERROR whose message starts with the field's name."""
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
