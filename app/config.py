"""One typed settings object, read from the environment (and `.env`).

Development defaults work out of the box; production refuses the unsafe ones.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

# No secret lives in the source. Development makes its own, once, in the instance folder; tests get random
# ones per process; production must be given both. These are SHA-256 fingerprints of the values earlier
# versions shipped as development defaults (public in the history): production refuses them.
PUBLISHED_SECRET_FINGERPRINTS = frozenset(
    {
        "f7f126b1fd80175752c755e7fc88ef5570c519aebe7b7199599d0451667ad905",  # the old SECRET_KEY default
        "0c1ad79c75518d3fe6b37594901cc5b31a1fdd7489201b87b927ab0fbf854a4d",  # the old ENCRYPTION_KEYS default
    }
)
SECRET_KEY_FILE = "secret_key"
ENCRYPTION_KEY_FILE = "encryption_key"


def is_published_secret(value: str) -> bool:
    return hashlib.sha256(value.encode()).hexdigest() in PUBLISHED_SECRET_FINGERPRINTS


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)


def new_encryption_key() -> str:
    return Fernet.generate_key().decode()


def instance_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in `path`, made by `make()` the first time (file mode 0600), then the same on every start.

    Two processes starting at once agree on one value: each writes a draft of its own (mkstemp: O_CREAT|O_EXCL,
    0600) and hard-links it into place, which refuses to replace an existing file; so the file appears whole or
    not at all, the first link wins, and everyone reads back the winner.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(make() + "\n")
                file.flush()
                os.fsync(file.fileno())
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another process was first: use its value
        finally:
            os.unlink(draft)
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it and a new secret is made at the next start")
    return value


@functools.cache
def _random_for_this_process(name: str) -> str:
    """Tests that pass no secret get one per process: every app built in it (and so its data) agrees."""
    return new_encryption_key() if name == "ENCRYPTION_KEYS" else new_secret_key()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    APP_ENV: Literal["development", "test", "production"] = "development"
    # The instance folder (default instance/ beside app/): the SQLite files and development's own secrets.
    INSTANCE_PATH: str = ""
    # Signs sessions and CSRF tokens. Unset: development uses (and first makes) instance/secret_key, tests a
    # random one per process; production refuses to start.
    SECRET_KEY: str = ""
    # Comma-separated Fernet keys; the first encrypts, all decrypt (rotation). Unset: as SECRET_KEY, with
    # instance/encryption_key.
    ENCRYPTION_KEYS: str = ""
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
    # Threads of one `flask worker` process (its --workers default). Fulfilment waits on the provider (800 ms
    # simulated) without holding a database connection, so threads, not cores, bound it: 1,000 orders in a
    # minute need ~14 at once; 32 leave room for the emails and webhooks queued meanwhile.
    WORKER_THREADS: int = Field(32, ge=1)
    # Run queued work synchronously at enqueue time (tests).
    QUEUE_IMMEDIATE: bool = False
    QUEUE_FILE: str = ""

    # Gift-card provider: the built-in simulated one (latency so "pending" is visible).
    PROVIDER_LATENCY_MS: int = 800
    PROVIDER_FAILURE_RATE: float = 0.0
    # The simulated provider never answers for this share of orders (every attempt waits out the timeout).
    PROVIDER_HANG_RATE: float = Field(0.0, ge=0.0, le=1.0)
    # The longest one attempt at the provider may take; then it counts as a failed attempt (retried).
    PROVIDER_TIMEOUT_SECONDS: float = Field(30.0, gt=0)
    ORDER_CLAIM_SECONDS: int = 120  # a worker's hold on an order it is fulfilling (longer than the provider's timeout)
    ORDER_MAX_ATTEMPTS: int = 5  # then the order fails and is refunded
    # The minute's sweep queues again a pending order this old that no worker holds (its task was lost: a worker
    # killed mid-way, the queue down at checkout or wiped).
    ORDER_SWEEP_AFTER_SECONDS: int = Field(120, ge=1)

    # Argon2id for new password hashes: OWASP's first recommended profile (2 passes over 19 MiB, 1 lane), about
    # 22 ms a hash on one core: 1,000 sign-ins a minute on 2 cores keep p99 under 500 ms, where argon2-cffi's
    # defaults (3 passes, 64 MiB, 4 lanes: ~180 ms and every core) queue up. Hashes made with other parameters
    # still verify (a hash names its own). Production refuses less than OWASP's minimum; tests use the cheapest.
    ARGON2_TIME_COST: int = Field(2, ge=1)
    ARGON2_MEMORY_COST_KIB: int = Field(19456, ge=8)
    ARGON2_PARALLELISM: int = Field(1, ge=1)
    TEMP_PASSWORD_DAYS: int = 7
    RESET_LINK_MINUTES: int = 60
    # A sign-in (store or portal) ends after this long without a request, and this long after it began
    # however busy: a cookie left on a shared computer or copied off one stops working by itself.
    SESSION_IDLE_MINUTES: int = Field(60, ge=1)
    SESSION_MAX_HOURS: int = Field(12, ge=1)
    LOGIN_RATE_LIMIT: str = "10 per minute"
    RESET_RATE_LIMIT: str = "5 per minute"
    # Gift page links that open nothing (a wrong, made-up or revoked token), per IP: past it every gift page
    # answers 429 to that address for a while, so tokens can't be guessed (they are 256 bits anyway).
    GIFT_PAGE_RATE_LIMIT: str = "10 per minute"
    EMAIL_MAX_ATTEMPTS: int = 5
    EMAIL_RETRY_DELAY_SECONDS: int = 30
    # Partner API: requests per API key (flask-limiter syntax), shared by every endpoint.
    API_RATE_LIMIT: str = "600/minute"
    # ... and per client IP, whatever the key (counted first, so made-up keys get no fresh budgets).
    API_IP_RATE_LIMIT: str = "1200/minute"
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
    # Operations (app/operations.py): /metrics wants `Authorization: Bearer <METRICS_TOKEN>` when it is set, and
    # answers only this machine when it is not. LOG_FORMAT=json: one JSON object per log line.
    METRICS_TOKEN: str = ""
    LOG_FORMAT: Literal["text", "json"] = "text"
    # Reverse proxies in front of the app that set X-Forwarded-For and X-Forwarded-Proto (0: none, the
    # client connects directly). Rate limits count per client IP, so behind a proxy this must be right.
    TRUSTED_PROXIES: int = Field(0, ge=0)

    @field_validator("INSTANCE_PATH")
    @classmethod
    def _default_instance_path(cls, value: str) -> str:
        return str(Path(value).resolve()) if value else str(INSTANCE_DIR)  # Flask wants it absolute

    @field_validator("DATABASE_URL")
    @classmethod
    def _default_sqlite(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return f"sqlite:///{Path(info.data.get('INSTANCE_PATH') or INSTANCE_DIR) / 'giftstore.db'}"
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @model_validator(mode="after")
    def _random_secrets_in_tests(self) -> Settings:
        if self.APP_ENV == "test":
            self.SECRET_KEY = self.SECRET_KEY or _random_for_this_process("SECRET_KEY")
            self.ENCRYPTION_KEYS = self.ENCRYPTION_KEYS or _random_for_this_process("ENCRYPTION_KEYS")
        return self

    @model_validator(mode="after")
    def _argon2_memory_for_its_lanes(self) -> Settings:
        if self.ARGON2_MEMORY_COST_KIB < 8 * self.ARGON2_PARALLELISM:
            raise ValueError("ARGON2_MEMORY_COST_KIB must be at least 8 × ARGON2_PARALLELISM (Argon2's minimum)")
        return self

    @model_validator(mode="after")
    def _claim_outlasts_a_provider_attempt(self) -> Settings:
        # A claim that ran out while its worker still waits for the provider would let a second worker in.
        if self.ORDER_CLAIM_SECONDS <= self.PROVIDER_TIMEOUT_SECONDS:
            raise ValueError("ORDER_CLAIM_SECONDS must be longer than PROVIDER_TIMEOUT_SECONDS")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_defaults_in_production(self) -> Settings:
        if self.APP_ENV == "production":
            problems = []
            if len(self.SECRET_KEY) < 32 or is_published_secret(self.SECRET_KEY):
                problems.append("SECRET_KEY must be set to a random value of 32+ characters")
            if not self.encryption_keys or not all(
                _is_fernet_key(k) and not is_published_secret(k) for k in self.encryption_keys
            ):
                problems.append("ENCRYPTION_KEYS must be set to one or more Fernet keys of your own")
            if not self.MAIL_SERVER:
                problems.append("MAIL_SERVER must be set")
            if not self.BASE_URL.startswith("https://"):
                problems.append("BASE_URL must be https://")
            if self.ARGON2_TIME_COST < 2 or self.ARGON2_MEMORY_COST_KIB < 19456:
                problems.append("ARGON2_TIME_COST must be 2+ and ARGON2_MEMORY_COST_KIB 19456+ (OWASP's minimum)")
            if problems:
                raise ValueError("Unsafe production settings: " + "; ".join(problems))
        return self

    def with_instance_secrets(self) -> Settings:
        """Development: the secrets not given, from the instance folder (made there on the first start)."""
        if self.APP_ENV != "development":
            return self
        folder = Path(self.INSTANCE_PATH)
        return self.model_copy(
            update={
                "SECRET_KEY": self.SECRET_KEY or instance_secret(folder / SECRET_KEY_FILE, new_secret_key),
                "ENCRYPTION_KEYS": self.ENCRYPTION_KEYS or instance_secret(folder / ENCRYPTION_KEY_FILE, new_encryption_key),
            }
        )

    @property
    def encryption_keys(self) -> list[str]:
        return [k.strip() for k in self.ENCRYPTION_KEYS.split(",") if k.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")

    @property
    def outbox_enabled(self) -> bool:
        """The development outbox page: in development only (and there for this machine only, app/web/dev.py)."""
        return self.APP_ENV == "development"


def _is_fernet_key(key: str) -> bool:
    try:
        Fernet(key.encode())
    except ValueError:
        return False
    return True
