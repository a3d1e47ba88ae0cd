"""Business objects as the JSON partners read: the partner API's answers (app/api) and the webhooks'
event bodies (app/services/webhooks.py) show an order the same way, from here.

Money is written as a JSON number with its currency's decimal places (`100.00`), never through a
float; moments as ISO 8601 in UTC. The pydantic models are also the OpenAPI document's schemas
(app/api/schemas.py re-exports them with the API's own request and response models).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from app.domain.money import Money, minor_digits

if TYPE_CHECKING:
    from app.models import Brand
    from app.models import Order as OrderRow
    from app.services.campaigns import CampaignSummary


# --- JSON values ----------------------------------------------------------------------------


def money_number(amount: Money) -> Decimal:
    """100.00 for USD, 100 for JPY: the currency's decimal places, written as a JSON number."""
    return amount.to_decimal().quantize(Decimal(1).scaleb(-minor_digits(amount.currency)))


def iso_utc(moment: datetime | None) -> str | None:
    """'2026-02-12T14:30:00.123456Z'; the database hands back naive UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC).isoformat().replace("+00:00", "Z")


def dumps(value) -> str:
    """json.dumps for partners: Decimal is written as its exact digits, unquoted; floats are refused."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("cannot encode a non-finite Decimal")
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats are not allowed in API responses: use Decimal")
    if value is None or isinstance(value, (bool, int, str)):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} in an API response")


# --- the order --------------------------------------------------------------------------------


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=False)


OutNumber = Annotated[Decimal, WithJsonSchema({"type": "number"})]
ORDER_STATUS = Literal["scheduled", "pending", "completed", "failed", "cancelled"]


class OrderRecipient(ApiModel):
    email: str
    name: str
    isCustomer: bool = Field(description="The card went to the customer themself")


class OrderCard(ApiModel):
    number: str
    pin: str | None
    redemptionUrl: str | None


class OrderDelivery(ApiModel):
    sentAt: str | None = Field(description="When the gift email was handed to the mail server (the first time); null until then")
    openedAt: str | None = Field(
        description="When the recipient first opened the gift page the email links to; null until then (recorded once)"
    )


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
    deliverAt: str | None = Field(
        description="When a scheduled gift is issued and emailed (UTC); null for one sent at once. The order is "
        "scheduled until then, and can be cancelled (POST /orders/{publicId}/cancel)"
    )
    cancelledAt: str | None = Field(description="When the order was cancelled and refunded; null otherwise")
    delivery: OrderDelivery = Field(description="The gift email's progress: sent, then opened by the recipient")
    card: OrderCard | None = Field(description="Only in GET /orders/{publicId} and POST /orders, once completed")


def order_data(order: OrderRow, brand: Brand, card: OrderCard | None = None) -> dict:
    """The Order schema for one order; `card` only where the card may be shown (never in a webhook)."""
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
        deliverAt=iso_utc(order.deliver_at),
        cancelledAt=iso_utc(order.cancelled_at),
        delivery=OrderDelivery(sentAt=iso_utc(order.sent_at), openedAt=iso_utc(order.opened_at)),
        card=card,
    ).model_dump()


def order_event(*, event_id: str, event_type: str, order: OrderRow, brand: Brand, created_at: datetime) -> str:
    """The exact JSON body of a webhook event (the WebhookEvent schema); the card itself never travels."""
    return dumps(
        {
            "id": event_id,
            "type": event_type,
            "createdAt": iso_utc(created_at),
            "data": {"order": order_data(order, brand)},
        }
    )


# --- the campaign -----------------------------------------------------------------------------

CAMPAIGN_STATUS = Literal["scheduled", "active", "paused", "ended"]


class CampaignRecurrence(ApiModel):
    """A recurring campaign's repeat: at every period start (calendar, in the partner's time zone: weeks from Monday
    00:00, months from the 1st 00:00) each member gets perCustomerAmount again."""

    every: Literal["week", "month"]
    leftover: Literal["expire", "rollover"] = Field(
        description="What a member has left at a period's end: expires back to the budget, or rolls over"
    )
    rolloverCap: OutNumber | None = Field(
        description="With rollover: the most a member keeps; what is above it goes back to the budget. null: no cap"
    )


class Campaign(ApiModel):
    """A campaign and its money (app/services/campaigns.CampaignSummary): budget = returned + remaining +
    unused + spent, always."""

    id: int
    name: str
    currency: str
    status: CAMPAIGN_STATUS
    budget: OutNumber = Field(description="Everything moved from partner funds into the budget (funding and increases)")
    allocated: OutNumber = Field(description="Given to members, net of what came back from them")
    spent: OutNumber = Field(description="What members paid for gift cards with it, net of refunds")
    returned: OutNumber = Field(description="Moved from the budget back to partner funds")
    remaining: OutNumber = Field(description="The budget not allocated yet")
    unused: OutNumber = Field(description="What members have left in their campaign balances")
    members: int
    perCustomerAmount: OutNumber = Field(description="What each member added from now on is allocated")
    brands: list[str] = Field(description="Brand slugs it pays for; with categories empty too: every brand")
    categories: list[str]
    startsAt: str
    endsAt: str | None
    priority: int = Field(description="Higher is spent first")
    eligibleTag: str | None = Field(
        default=None,
        description="null: the customers added as members; a tag: every customer with it (joining when they get it)",
    )
    eligibleCreatedAfter: str | None = Field(
        default=None, description="ISO 8601, UTC; with eligibleTag: only customers created after it"
    )
    returnUnusedOnEnd: bool = Field(description="At its end the remaining budget goes back to partner funds")
    recurrence: CampaignRecurrence | None = Field(description="null: allocated once, when a member joins")
    lowBudgetThreshold: OutNumber | None = Field(
        description="Admins are emailed (and campaign.budget_low fires) when remaining falls below it"
    )
    pauseWhenExhausted: bool = Field(description="The campaign pauses itself when its budget can't pay a member's allocation")
    budgetLowSince: str | None = Field(
        description="When the budget-low alert last went out; null once the budget is enough again"
    )
    createdAt: str
    endedAt: str | None


def campaign_data(summary: CampaignSummary) -> dict:
    """The Campaign schema for one campaign's summary."""
    campaign = summary.campaign
    return Campaign(
        id=campaign.id,
        name=campaign.name,
        currency=campaign.currency,
        status=campaign.status,
        budget=money_number(summary.budget),
        allocated=money_number(summary.allocated),
        spent=money_number(summary.spent),
        returned=money_number(summary.returned),
        remaining=money_number(summary.remaining),
        unused=money_number(summary.unused),
        members=summary.members,
        perCustomerAmount=money_number(Money(campaign.per_consumer_amount, campaign.currency)),
        brands=campaign.brand_slug_list,
        categories=campaign.category_list,
        startsAt=iso_utc(campaign.starts_at),
        endsAt=iso_utc(campaign.ends_at),
        priority=campaign.priority,
        eligibleTag=campaign.eligible_tag,
        eligibleCreatedAfter=iso_utc(campaign.eligible_created_after),
        returnUnusedOnEnd=campaign.return_unused_on_end,
        recurrence=(
            CampaignRecurrence(
                every=campaign.recurrence_every,
                leftover=campaign.leftover,
                rolloverCap=(
                    money_number(Money(campaign.rollover_cap, campaign.currency)) if campaign.rollover_cap is not None else None
                ),
            )
            if campaign.recurrence_every
            else None
        ),
        lowBudgetThreshold=(
            money_number(Money(campaign.low_budget_threshold, campaign.currency))
            if campaign.low_budget_threshold is not None
            else None
        ),
        pauseWhenExhausted=campaign.pause_when_exhausted,
        budgetLowSince=iso_utc(campaign.budget_low_since),
        createdAt=iso_utc(campaign.created_at),
        endedAt=iso_utc(campaign.ended_at),
    ).model_dump()


def campaign_event(*, event_id: str, event_type: str, summary: CampaignSummary, created_at: datetime) -> str:
    """The exact JSON body of a campaign's webhook event (the CampaignWebhookEvent schema)."""
    return dumps(
        {"id": event_id, "type": event_type, "createdAt": iso_utc(created_at), "data": {"campaign": campaign_data(summary)}}
    )
