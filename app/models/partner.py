from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class Partner(SQLModel, table=True):
    """The tenant: a business with its own branded store at /s/<slug>/."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=120)
    client_id: str = Field(max_length=36, unique=True, index=True)
    currencies: str = Field(default="USD", max_length=200)  # comma-separated ISO codes
    # Published branding (the editor with drafts comes with the branding issue).
    store_name: str = Field(default="", max_length=120)
    primary_color: str = Field(default="#1f6feb", max_length=7)
    accent_color: str = Field(default="#d97706", max_length=7)  # 3:1 on white: it draws the focus ring
    background_color: str = Field(default="#ffffff", max_length=7, sa_column_kwargs={"server_default": "#ffffff"})
    support_email: str = Field(default="", max_length=254)
    footer_text: str = Field(default="", max_length=1000, sa_column_kwargs={"server_default": ""})
    # The published BrandingVersion (its id serves the logo); None until the first publish.
    branding_version_id: int | None = Field(default=None)
    has_logo: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # The newest TermsVersion.version, kept here so every store request can check it without a query.
    terms_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Goes up with every change to the brands this store shows (its brand settings, or a brand itself), in the
    # same transaction: every process can tell whether its cached catalog is still current from the row it
    # loads on each request anyway (app/services/catalog.py bumps it).
    catalog_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Its calendar (IANA name, checked with zoneinfo): recurring campaigns' weeks and months start at 00:00 here.
    time_zone: str = Field(default="UTC", max_length=64, sa_column_kwargs={"server_default": "UTC"})
    # Consumers get one email this many days before a campaign balance they hold expires (0: none).
    reminder_days: int = Field(default=3, sa_column_kwargs={"server_default": "3"})
    # Gift emails carry only the link to the hosted gift page, not the card number and PIN (safer against
    # forwarding); off by default: the email carries both.
    gift_email_link_only: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Store checkout: gifts for someone else over this price (minor units of the order's currency) ask the sender
    # to tick "I checked the address" on the review page (issue #18; 0: always ask).
    confirm_recipient_over: int = Field(default=100_00, sa_column_kwargs={"server_default": "10000"})
    # Minutes after confirm during which a store's immediate gift waits, so its sender can still unsend it (0: none).
    unsend_window_minutes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def display_name(self) -> str:
        return self.store_name or self.name

    @property
    def currency_list(self) -> list[str]:
        return [c for c in self.currencies.split(",") if c]


class TermsVersion(SQLModel, table=True):
    """A partner's terms of use; consumers accept the newest version before anything else."""

    __table_args__ = (UniqueConstraint("partner_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    version: int
    body: str
    published_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """A partner API credential: the key is stored hashed, the HMAC secret encrypted."""

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    prefix: str = Field(max_length=16, index=True)
    key_hash: str = Field(max_length=64, unique=True)
    hmac_secret_encrypted: str
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    label: str = Field(default="", max_length=80, sa_column_kwargs={"server_default": ""})
    created_by_id: int | None = Field(default=None, foreign_key="team_member.id")
    # Refuse the seed's v1 signatures (they do not cover the path or query): x-signature-version 2 only.
    require_signature_v2: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})


class ApiSignatureSeen(SQLModel, table=True):
    """A partner API request signature already used (its SHA-256): replays are refused.

    Kept for 10 minutes (timestamps older than 5 minutes are refused anyway); Redis replaces
    this table when REDIS_URL is set (app/api/replay.py).
    """

    __tablename__ = "api_signature_seen"

    signature_hash: str = Field(primary_key=True, max_length=64)
    seen_at: datetime = Field(default_factory=utcnow, index=True)
