from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class BulkUpload(SQLModel, table=True):
    """A CSV of consumers to create or deactivate: checked first (dry run), committed on request.

    status (app.domain.bulk_uploads.UploadStatus): checking -> checked -> committing -> committed (or failed). Progress is
    processed_rows / total_rows while the queue works through the file.
    """

    __tablename__ = "bulk_upload"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=24, unique=True, index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    team_member_id: int | None = Field(default=None, foreign_key="team_member.id")
    filename: str = Field(max_length=200)
    sha256: str = Field(max_length=64, index=True)
    status: str = Field(default="checking", max_length=20)
    total_rows: int = 0
    processed_rows: int = 0
    to_create: int = 0
    to_deactivate: int = 0
    to_tag: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # rows that only add tags
    skipped: int = 0
    errors: int = 0
    done_rows: int = 0  # committed so far
    failure: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    committed_at: datetime | None = None


class BulkUploadRow(SQLModel, table=True):
    """One data row of a BulkUpload and what checking it found (outcome and message: create | deactivate | tag | skip | error)."""

    __tablename__ = "bulk_upload_row"

    id: int | None = Field(default=None, primary_key=True)
    upload_id: int = Field(foreign_key="bulk_upload.id", index=True)
    row_number: int  # 1 = the first data row under the header
    action: str = Field(default="create", max_length=20)  # create | deactivate
    email: str = Field(default="", max_length=254)
    full_name: str = Field(default="", max_length=200)
    currency: str = Field(default="", max_length=3)
    amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # minor units
    tags: str = Field(default="", max_length=1000, sa_column_kwargs={"server_default": ""})  # cleaned, ";"-separated
    raw: str = Field(default="", max_length=2000)  # the row as uploaded, for the error CSV
    outcome: str = Field(default="", max_length=20)  # create | deactivate | skip | error
    message: str = Field(default="", max_length=300)
    committed: bool = False
