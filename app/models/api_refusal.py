from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.clock import utcnow


class ApiRefusedRequest(SQLModel, table=True):
    """A partner API request whose authentication was refused, kept for the portal's signing diagnosis.

    Only the last 50 per API key are kept (app/services/api_refusals.py prunes on every insert); a
    request with an unknown key is only logged. Never the body, the signature or a secret: the body's
    length and SHA-256, and what the diagnosis found, are enough to act on.
    """

    __tablename__ = "api_refused_request"

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="apikey.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    refused_at: datetime = Field(default_factory=utcnow)
    method: str = Field(max_length=10)
    path: str = Field(max_length=300)  # as sent, without the query
    source_ip: str = Field(default="", max_length=64)
    reason: str = Field(max_length=40)  # app/domain/signing_diagnosis.RefusalReason
    diagnosis: str = Field(max_length=300)
    signature_version: str = Field(default="", max_length=8)  # x-signature-version as sent ("" when left out)
    timestamp: str = Field(default="", max_length=64)  # x-timestamp as sent
    skew_seconds: int | None = None  # how far x-timestamp was behind (positive) or ahead of our clock
    body_length: int = 0
    body_sha256: str = Field(default="", max_length=64)
