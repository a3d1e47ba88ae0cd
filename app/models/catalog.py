from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class Brand(SQLModel, table=True):
    """A gift card in the global catalog. Amounts are minor units."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=60, unique=True, index=True)
    name: str = Field(max_length=120)
    category: str = Field(max_length=60, index=True)
    description: str = Field(default="", max_length=1000)
    color: str = Field(default="#334155", max_length=7)
    logo_svg: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    redemption_instructions: str = Field(default="", max_length=2000)
    terms: str = Field(default="", max_length=2000)
    currencies: str = Field(default="USD", max_length=60)  # comma-separated ISO codes
    denominations: str = Field(default="", max_length=200)  # comma-separated minor units; empty = variable
    min_amount: int | None = None
    max_amount: int | None = None
    has_pin: bool = True
    redemption_url: str | None = Field(default=None, max_length=300)  # may contain {code}
    supports_retry: bool = True
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def currency_list(self) -> list[str]:
        return [c for c in self.currencies.split(",") if c]

    @property
    def denomination_list(self) -> list[int]:
        return [int(d) for d in self.denominations.split(",") if d]


class PartnerBrand(SQLModel, table=True):
    """A partner's view of a brand: shown or not, its price adjustment and bonus."""

    __table_args__ = (UniqueConstraint("partner_id", "brand_id"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    enabled: bool = True
    discount_percent: Decimal = Field(default=Decimal(0), max_digits=5, decimal_places=2)
    fee: int = 0  # minor units
    bonus_type: str = Field(default="none", max_length=10)  # none | value | cash
    bonus_percent: Decimal = Field(default=Decimal(0), max_digits=5, decimal_places=2)
    # The consumers the bonus is for: "" = everyone, else only those with this tag (app/domain/segments.py).
    bonus_segment: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})
    promo_starts_at: datetime | None = None
    promo_ends_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
