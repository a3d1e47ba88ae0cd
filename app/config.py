"""One typed settings object, read from the environment (and `.env`).

Development defaults work out of the box; production refuses the unsafe ones.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

# Development-only values: refused when APP_ENV=production.
DEV_SECRET_KEY = "dev-only-secret-key-change-me"
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktY2hhbmdlLW0="  # Fernet key, dev only


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    APP_ENV: Literal["development", "test", "production"] = "development"
    SECRET_KEY: str = DEV_SECRET_KEY
    # Comma-separated Fernet keys; the first encrypts, all decrypt (rotation).
    ENCRYPTION_KEYS: str = DEV_ENCRYPTION_KEY
    DATABASE_URL: str = ""
    REDIS_URL: str = ""
    BASE_URL: str = "http://127.0.0.1:5000"

    # Mail: with no MAIL_SERVER, development keeps mail in the outbox page only.
    MAIL_SERVER: str = ""
    MAIL_PORT: int = 25
    MAIL_USE_TLS: bool = False
    MAIL_USE_SSL: bool = False
    MAIL_USERNAME: str = ""
    MAIL_PASSWORD: str = ""
    MAIL_DEFAULT_SENDER: str = "Gift Store <no-reply@giftstore.local>"

    # Queue: run queued work inside the web process (off in production, run `flask worker`).
    RUN_WORKER_IN_PROCESS: bool = True
    # Run queued work synchronously at enqueue time (tests).
    QUEUE_IMMEDIATE: bool = False
    QUEUE_FILE: str = ""

    # Gift-card provider: the built-in simulated one (latency so "pending" is visible).
    PROVIDER_LATENCY_MS: int = 800
    PROVIDER_FAILURE_RATE: float = 0.0
    ORDER_CLAIM_SECONDS: int = 120  # a worker's hold on an order it is fulfilling
    ORDER_MAX_ATTEMPTS: int = 5  # then the order fails and is refunded

    TEMP_PASSWORD_DAYS: int = 7
    RESET_LINK_MINUTES: int = 60
    LOGIN_RATE_LIMIT: str = "10 per minute"
    RESET_RATE_LIMIT: str = "5 per minute"
    EMAIL_MAX_ATTEMPTS: int = 5
    EMAIL_RETRY_DELAY_SECONDS: int = 30
    # Partner API: requests per API key (flask-limiter syntax), shared by every endpoint.
    API_RATE_LIMIT: str = "600/minute"
    # Webhooks: attempts per event before giving up; the delay doubles after each failed attempt.
    WEBHOOK_MAX_ATTEMPTS: int = 6
    WEBHOOK_RETRY_DELAY_SECONDS: int = 30
    WEBHOOK_TIMEOUT_SECONDS: int = 10
    # Portal CSV bulk upload of consumers: the biggest file and the most data rows accepted.
    BULK_UPLOAD_MAX_BYTES: int = 2_000_000
    BULK_UPLOAD_MAX_ROWS: int = 10_000
    WTF_CSRF_ENABLED: bool = True
    RATELIMIT_ENABLED: bool = True
    SESSION_COOKIE_SECURE: bool = False
    # Reverse proxies in front of the app that set X-Forwarded-For and X-Forwarded-Proto (0: none, the
    # client connects directly). Rate limits count per client IP, so behind a proxy this must be right.
    TRUSTED_PROXIES: int = Field(0, ge=0)

    @field_validator("DATABASE_URL")
    @classmethod
    def _default_sqlite(cls, value: str) -> str:
        if not value:
            return f"sqlite:///{INSTANCE_DIR / 'giftstore.db'}"
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://"):]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://"):]
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_defaults_in_production(self) -> "Settings":
        if self.APP_ENV == "production":
            problems = []
            if self.SECRET_KEY == DEV_SECRET_KEY or len(self.SECRET_KEY) < 32:
                problems.append("SECRET_KEY must be set to a random value of 32+ characters")
            if DEV_ENCRYPTION_KEY in self.encryption_keys:
                problems.append("ENCRYPTION_KEYS must not contain the development key")
            if not self.MAIL_SERVER:
                problems.append("MAIL_SERVER must be set")
            if not self.BASE_URL.startswith("https://"):
                problems.append("BASE_URL must be https://")
            if problems:
                raise ValueError("Unsafe production settings: " + "; ".join(problems))
        return self

    @property
    def encryption_keys(self) -> list[str]:
        return [k.strip() for k in self.ENCRYPTION_KEYS.split(",") if k.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")

    @property
    def outbox_enabled(self) -> bool:
        """The development outbox page (never in production)."""
        return self.APP_ENV != "production"
