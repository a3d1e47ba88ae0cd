"""Partners: creation, funding, API credentials and terms."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import String, bindparam, cast, update
from sqlmodel import Session, col, func, select

from app.db import remember, write_transaction
from app.domain.errors import InvalidInput, NotFound
from app.domain.ledger import AccountKind, TransactionType, transfer
from app.domain.money import Money, normalize_currency
from app.models import Account, ApiKey, Consumer, Partner, SignInSession, TermsVersion
from app.security import new_token, token_hash
from app.services import ledger, sign_in_sessions
from app.services.rows import row_id

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")

DEFAULT_TERMS = """By using this store you agree that:

1. Your wallet balance is provided by {partner} and can only be spent on gift cards in this store.
2. Gift cards are delivered by email to the address you choose and cannot be exchanged for cash.
3. Keep your password to yourself; you are responsible for orders placed with your account.
4. {partner} may deactivate your account; you can still look at your history but not place orders.
"""


@dataclass(frozen=True)
class ApiCredentials:
    """Shown once, when created. Only the key's hash and the encrypted secret are kept."""

    client_id: str
    api_key: str
    hmac_secret: str


def hold_partner(session: Session, partner_id: int) -> None:
    """Inside a write transaction: wait for, then block, this partner's other writers until commit.

    A no-op UPDATE of the partner's row. Check-then-write code (does this key, wallet or webhook
    exist yet?) calls it first, so its check sees whatever a concurrent twin committed. SQLite
    needs none of it (one writer at a time) but it costs nothing there.
    """
    session.execute(
        update(Partner)
        .where(col(Partner.id) == partner_id)
        .values(currencies=Partner.currencies)
        .execution_options(synchronize_session=False)
    )


# Built once: every store request runs one of these, and composing a statement costs more than running it.
_PARTNER_BY_SLUG = select(Partner).where(Partner.slug == bindparam("slug"))
# The consumer's balances ride along as one "USD:general:2500,USD:bonus:0" string: most store pages show them.
_CONSUMER_BALANCES = (
    select(func.aggregate_strings(Account.currency + ":" + Account.kind + ":" + cast(Account.balance, String), ","))
    .where(Account.consumer_id == Consumer.id)
    .scalar_subquery()
)
# Every signed-in store request starts with this (other store queries join more onto it: `partner_and_consumer_row`).
# The browser's sign-in session rides along too: the user loader checks it is live without a query of its own.
PARTNER_AND_CONSUMER = (
    select(Partner, Consumer, _CONSUMER_BALANCES, SignInSession)
    .outerjoin(Consumer, (col(Consumer.id) == bindparam("consumer_id")) & (col(Consumer.partner_id) == Partner.id))
    .outerjoin(
        SignInSession,
        (col(SignInSession.consumer_id) == Consumer.id) & (col(SignInSession.token_hash) == bindparam("sign_in_hash")),
    )
    .where(Partner.slug == bindparam("slug"))
)


def partner_by_slug(session: Session, slug: str) -> Partner:
    partner = session.exec(_PARTNER_BY_SLUG, params={"slug": slug}).first()
    if partner is None:
        raise NotFound(f"There is no store at '{slug}'.")
    return partner


def partner_and_consumer(
    session: Session, slug: str, consumer_id: int, sign_in_token: str | None = None
) -> tuple[Partner, Consumer | None]:
    """The partner at `slug` and, in the same query, consumer `consumer_id` if they belong to that partner,
    with their balances (remembered for `consumers.wallets` until the request writes) and their sign-in
    session `sign_in_token` (remembered for `consumer_auth.sign_in_is_live`)."""
    params = {"slug": slug, "consumer_id": consumer_id}
    return partner_and_consumer_row(session, PARTNER_AND_CONSUMER, params, sign_in_token=sign_in_token)[:2]


def partner_and_consumer_row(session: Session, statement, params: dict, *, sign_in_token: str | None = None) -> tuple:
    """Runs `PARTNER_AND_CONSUMER` or a statement built on it (more entities joined after the first four):
    (partner, consumer, *the rest), with the consumer's balances and sign-in session remembered."""
    sign_in_hash = sign_in_sessions.hash_of(sign_in_token)
    row = session.exec(statement, params={**params, "sign_in_hash": sign_in_hash}).first()
    if row is None:
        raise NotFound(f"There is no store at '{params['slug']}'.")
    partner, consumer, balances, sign_in, *rest = row
    if consumer is not None:
        remember(
            session,
            ("balances", consumer.id),
            [
                (currency, kind, int(balance))
                for currency, kind, balance in (part.split(":") for part in (balances or "").split(",") if part)
            ],
        )
        sign_in_sessions.remember_read(session, sign_in_hash, sign_in)
    return (partner, consumer, *rest)


def create_partner(
    session: Session,
    *,
    slug: str,
    name: str,
    currency: str,
    funds: Money | None = None,
    primary_color: str = "#1f6feb",
    accent_color: str = "#d97706",
    actor: str = "",
) -> tuple[Partner, ApiCredentials]:
    slug = (slug or "").strip().lower()
    name = (name or "").strip()
    if not SLUG.match(slug):
        raise InvalidInput("slug must be 1-40 lower-case letters, digits or dashes", field="slug")
    if not name or len(name) > 120:
        raise InvalidInput("name must be 1-120 characters", field="name")
    for color in (primary_color, accent_color):
        if not COLOR.match(color):
            raise InvalidInput(f"colour '{color}' must look like #1a2b3c", field="color")
    currency = normalize_currency(currency)
    with write_transaction(session):
        if session.exec(select(Partner).where(Partner.slug == slug)).first():
            raise InvalidInput(f"a partner with slug '{slug}' already exists", field="slug")
        partner = Partner(
            slug=slug,
            name=name,
            client_id=str(uuid.uuid4()),
            currencies=currency,
            store_name=name,
            primary_color=primary_color,
            accent_color=accent_color,
        )
        session.add(partner)
        session.flush()
        ledger.open_account(session, AccountKind.PARTNER_FUNDS, currency, partner_id=row_id(partner))
        session.add(TermsVersion(partner_id=row_id(partner), version=1, body=DEFAULT_TERMS.format(partner=name)))
        partner.terms_version = 1
        credentials = issue_api_key(session, partner=partner)
        if funds:
            if funds.currency != currency:
                raise InvalidInput("funds must be in the partner's currency", field="funds")
            fund_partner(session, partner=partner, amount=funds, actor=actor, memo="Opening funds")
    return partner, credentials


def issue_api_key(session: Session, *, partner: Partner) -> ApiCredentials:
    api_key = "gsk_" + new_token(24)
    hmac_secret = new_token(32)
    encryptor = current_app.extensions["encryptor"]
    with write_transaction(session):
        session.add(
            ApiKey(
                partner_id=row_id(partner),
                prefix=api_key[:12],
                key_hash=token_hash(api_key),
                hmac_secret_encrypted=encryptor.encrypt(hmac_secret),
            )
        )
    return ApiCredentials(client_id=partner.client_id, api_key=api_key, hmac_secret=hmac_secret)


def fund_partner(session: Session, *, partner: Partner, amount: Money, actor: str = "", memo: str = ""):
    """Money paid in by the partner: from its deposits (outside world) into its funds account."""
    if amount.amount <= 0:
        raise InvalidInput("amount must be more than zero", field="amount")
    with write_transaction(session):
        if amount.currency not in partner.currency_list:
            partner.currencies = ",".join(partner.currency_list + [amount.currency])
            session.add(partner)
        deposits = ledger.open_account(session, AccountKind.PARTNER_DEPOSITS, amount.currency, partner_id=row_id(partner))
        funds = ledger.open_account(session, AccountKind.PARTNER_FUNDS, amount.currency, partner_id=row_id(partner))
        return ledger.post_transaction(
            session,
            partner_id=partner.id,
            type=TransactionType.CREDIT,
            currency=amount.currency,
            postings=transfer(row_id(deposits), row_id(funds), amount.amount),
            memo=memo or "Partner funds added",
            actor=actor,
        )


def partner_funds(session: Session, partner: Partner, currency: str) -> Money:
    account = ledger.find_account(session, AccountKind.PARTNER_FUNDS, currency, partner_id=row_id(partner))
    return ledger.balance(account, currency)


def current_terms(session: Session, partner_id: int) -> TermsVersion | None:
    return session.exec(
        select(TermsVersion).where(TermsVersion.partner_id == partner_id).order_by(col(TermsVersion.version).desc())
    ).first()


def publish_terms(session: Session, *, partner: Partner, body: str) -> TermsVersion:
    """A new version of the terms; every consumer is asked to accept it at their next request."""
    body = (body or "").strip()
    if not body:
        raise InvalidInput("terms cannot be empty", field="body")
    with write_transaction(session):
        latest = session.exec(select(func.max(TermsVersion.version)).where(TermsVersion.partner_id == partner.id)).one()
        terms = TermsVersion(partner_id=row_id(partner), version=(latest or 0) + 1, body=body)
        session.add(terms)
        partner.terms_version = terms.version
        session.add(partner)
    return terms
