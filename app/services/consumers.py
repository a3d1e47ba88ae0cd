"""Consumers: creation with initial funds, wallets, activation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import NamedTuple, cast

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import ColumnElement, CursorResult, and_, bindparam, func, insert, literal, or_, update
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import remember, remembered, write_transaction
from app.domain.errors import (
    DomainError,
    DuplicateConsumer,
    InsufficientFunds,
    InvalidFields,
    InvalidInput,
    PartnerFundsTooLow,
    sentence,
)
from app.domain.ledger import AccountKind, TransactionStatus, TransactionType, transfer
from app.domain.money import Money, format_money, normalize_currency
from app.domain.paging import FIRST_PAGE, CursorPage, Position
from app.domain.statement import GiftFor, describe
from app.domain.text import character_refusal
from app.emails import Email, build_welcome_email
from app.links import external_url
from app.look import published_look
from app.models import Account, Brand, Consumer, Entry, Order, Partner, TeamMember, Transaction
from app.security import hash_temporary_password, new_temporary_password
from app.services import audit, campaigns, ledger, list_pages, partners, segments
from app.services.campaigns import CampaignBalance
from app.services.emails import queue_email, queue_emails
from app.services.rows import referenced, row_id, table_of

DUPLICATE_WALLET = "Some customers already have wallets in the requested currency"
PARTNER_FUNDS_TOO_LOW = "Unable to pre-charge all currency groups"


@dataclass(frozen=True)
class Wallet:
    """A consumer's balances in one currency: general, bonus, and each campaign balance with money in it
    (in spending order; one that is paused or not started yet is listed but can't be spent now)."""

    currency: str
    general: Money
    bonus: Money
    campaigns: tuple[CampaignBalance, ...] = ()

    @property
    def spendable_campaigns(self) -> list[CampaignBalance]:
        return [c for c in self.campaigns if c.spendable_now]

    @property
    def total(self) -> Money:
        """Everything the consumer can spend now (a campaign balance only on the brands it allows)."""
        total = self.general + self.bonus
        for campaign in self.spendable_campaigns:
            total = total + campaign.balance
        return total


@dataclass(frozen=True)
class NewConsumer:
    consumer: Consumer
    wallet_account: Account
    created: bool  # False when an existing consumer got a wallet in a new currency


def normalize_email(value: str, *, field: str = "email") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("Enter an email address.", field=field)
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"'{value.strip()[:80]}' is not a valid email address: {exc}", field=field) from None
    return result.normalized.lower()


def clean_name(value: str, *, field: str = "fullName") -> str:
    if not isinstance(value, str):
        raise InvalidInput("Enter a full name.", field=field)
    name = " ".join(value.split())
    if not name:
        raise InvalidInput("Enter a full name.", field=field)
    if len(name) > 200:
        raise InvalidInput("The full name can be at most 200 characters.", field=field)
    problem = character_refusal(name)
    if problem:
        raise InvalidInput(f"The full name {problem}.", field=field)
    if "<" in name or ">" in name:
        raise InvalidInput("The full name can't contain < or >.", field=field)
    return name


def find_consumer(session: Session, *, partner_id: int, email: str) -> Consumer | None:
    return session.exec(select(Consumer).where(Consumer.partner_id == partner_id, Consumer.email == email)).first()


def is_an_address_of(session: Session, *, partner_id: int, text: str) -> bool:
    """Whether `text` (lower case) is exactly the email of one of the partner's consumers: a whole address typed
    or pasted into a search, which then finds that consumer through the unique index instead of scanning."""
    return "@" in text and find_consumer(session, partner_id=partner_id, email=text) is not None


def email_condition(session: Session, *, partner_id: int, text: str) -> ColumnElement[bool]:
    """The partner's consumers a search for `text` (lower case) in their emails finds: the one whose address it is,
    when it is one (`is_an_address_of`); else every address holding it (a typed % or _ is a character). The partner
    is named for the unique index on (partner_id, email), also when the consumer is joined to orders or transactions."""
    if is_an_address_of(session, partner_id=partner_id, text=text):
        return and_(col(Consumer.partner_id) == partner_id, col(Consumer.email) == text)
    return and_(col(Consumer.partner_id) == partner_id, col(Consumer.email).contains(text, autoescape=True))


def create_consumer(
    session: Session,
    *,
    partner: Partner,
    email: str,
    full_name: str,
    initial_funds: Money,
    actor: str = "",
    temporary_password: str | None = None,
) -> NewConsumer:
    """Create a consumer with a general and a bonus wallet, funded from the partner's funds.

    One transaction: if the partner's funds are too low nothing is created. The welcome
    email with a temporary password is queued once it commits. An existing consumer with
    no wallet in this currency gets one (funded the same way) instead of a second account.
    """
    email = normalize_email(email)
    full_name = clean_name(full_name)
    currency = initial_funds.currency
    if initial_funds.amount < 0:
        raise InvalidInput("initialFunds cannot be negative.", field="initialFunds")
    if currency not in partner.currency_list:
        raise InvalidInput(f"currency {currency} is not enabled for this partner.", field="currency")

    with write_transaction(session):
        # Two requests for the same email and currency at once: the second sees the first's wallet.
        partners.hold_partner(session, row_id(partner))
        consumer = find_consumer(session, partner_id=row_id(partner), email=email)
        created = consumer is None
        if consumer is not None:
            if ledger.find_account(session, AccountKind.GENERAL, currency, partner_id=row_id(partner), consumer_id=consumer.id):
                raise DuplicateConsumer(DUPLICATE_WALLET, field="email")
        else:
            temporary_password = temporary_password or new_temporary_password()
            expires_at = utcnow() + timedelta(days=current_app.config["TEMP_PASSWORD_DAYS"])
            consumer = Consumer(
                partner_id=row_id(partner),
                email=email,
                full_name=full_name,
                password_hash=hash_temporary_password(temporary_password),
                must_change_password=True,
                temporary_password_expires_at=expires_at,
            )
            session.add(consumer)
            session.flush()
        general = ledger.open_account(session, AccountKind.GENERAL, currency, partner_id=row_id(partner), consumer_id=consumer.id)
        ledger.open_account(session, AccountKind.BONUS, currency, partner_id=row_id(partner), consumer_id=consumer.id)
        if initial_funds.amount > 0:
            funds = ledger.open_account(session, AccountKind.PARTNER_FUNDS, currency, partner_id=row_id(partner))
            try:
                ledger.post_transaction(
                    session,
                    partner_id=row_id(partner),
                    consumer_id=consumer.id,
                    type=TransactionType.CREDIT,
                    currency=currency,
                    postings=transfer(row_id(funds), row_id(general), initial_funds.amount),
                    memo="Initial funds",
                    actor=actor,
                )
            except InsufficientFunds:
                raise PartnerFundsTooLow(PARTNER_FUNDS_TOO_LOW, field="initialFunds") from None
        if created:
            assert temporary_password is not None  # set above, for the consumer created
            email_message = build_welcome_email(
                partner=partner,
                consumer=consumer,
                temporary_password=temporary_password,
                login_url=external_url("store.login", slug=partner.slug),
                expires_at=expires_at,
            )
            queue_email(session, email_message, partner_id=partner.id, consumer_id=consumer.id)
    return NewConsumer(consumer=consumer, wallet_account=general, created=created)


# Built once: the header shows the wallet on nearly every store page.
# Columns, not accounts: nothing here changes them, and building ORM objects costs more than the query.
_CONSUMER_BALANCES = select(Account.currency, Account.kind, Account.balance).where(
    Account.consumer_id == bindparam("consumer_id")
)


def wallets(session: Session, consumer: Consumer) -> list[Wallet]:
    """The consumer's balances per currency: as read with them this request (store pages), or read now.
    Campaign balances cost one query more, and only for a consumer with money in a campaign wallet."""
    balances = remembered(session, ("balances", consumer.id))
    if balances is None:
        balances = session.execute(_CONSUMER_BALANCES, {"consumer_id": consumer.id}).all()
    by_currency: dict[str, dict[str, int]] = {}
    in_campaigns = False
    for currency, kind, balance in sorted(balances):
        if kind == AccountKind.CAMPAIGN.value:
            in_campaigns = in_campaigns or balance > 0
            continue
        by_currency.setdefault(currency, {})[kind] = balance
    held = campaign_balances(session, consumer) if in_campaigns else []
    for campaign in held:
        by_currency.setdefault(campaign.balance.currency, {})
    return [
        Wallet(
            currency=currency,
            general=Money(kinds.get(AccountKind.GENERAL.value, 0), currency),
            bonus=Money(kinds.get(AccountKind.BONUS.value, 0), currency),
            campaigns=tuple(c for c in held if c.balance.currency == currency),
        )
        for currency, kinds in sorted(by_currency.items())
    ]


def spendable_campaigns(wallets: list[Wallet], currency: str | None) -> list[CampaignBalance]:
    """The campaign balances in `currency` the consumer can spend now (the catalog's badges and filter)."""
    return [campaign for wallet in wallets if wallet.currency == currency for campaign in wallet.spendable_campaigns]


def campaigns_paying_for(wallets: list[Wallet], brand, currency: str | None) -> list[CampaignBalance]:
    """The campaign balances in `currency` that pay for `brand` now ("Wellness balance applies")."""
    return [campaign for campaign in spendable_campaigns(wallets, currency) if campaign.allows(brand)]


def campaign_balances(session: Session, consumer: Consumer) -> list[CampaignBalance]:
    """The consumer's campaign balances with money in them (campaigns not ended, still a member), in spending
    order; read once a request (until it writes): the header, the wallet and the catalog's badges share them."""
    key = ("campaign balances", consumer.id)
    held = remembered(session, key)
    if held is None:
        now = utcnow()
        held = [
            c
            for c in campaigns.consumer_campaign_balances(session, consumer=consumer, now=now)
            if c.balance.amount > 0 and (c.spendable_until is None or now < c.spendable_until)
        ]  # past its end: never spent again
        remember(session, key, held)
    return held


def set_active(session: Session, *, consumer: Consumer, active: bool) -> Consumer:
    """Deactivated consumers can still log in and look, but cannot order. Reactivated, they join the campaigns
    for their tags that they couldn't join meanwhile (app/services/segments.py)."""
    with write_transaction(session):
        if active:  # who has a campaign's tag is read below: the partner first (the lock order, see campaigns.tags_changed)
            partners.hold_partner(session, consumer.partner_id)
        consumer.is_active = active
        session.add(consumer)
        if active:
            session.flush()
            segments.join_campaigns_for_tags(session, consumer=consumer)
    return consumer


def resend_welcome(session: Session, *, partner: Partner, consumer: Consumer, by: TeamMember) -> Consumer:
    """A fresh temporary password by email, for a consumer who lost the first one or let it expire.

    The old temporary password and every session stop working. Only before the consumer chose
    a password of their own: afterwards this would lock them out of it ("Forgot password?" is theirs).
    Audited as done by the team member `by`.
    """
    with write_transaction(session):
        session.refresh(consumer)
        if not consumer.must_change_password:
            raise InvalidInput(
                f"{consumer.email} has already chosen their own password. They can reset it with "
                "“Forgot password?” on the store's sign-in page.",
                field="consumer",
            )
        temporary_password = new_temporary_password()
        consumer.password_hash = hash_temporary_password(temporary_password)
        consumer.temporary_password_expires_at = utcnow() + timedelta(days=current_app.config["TEMP_PASSWORD_DAYS"])
        consumer.session_epoch += 1
        session.add(consumer)
        email_message = build_welcome_email(
            partner=partner,
            consumer=consumer,
            temporary_password=temporary_password,
            login_url=external_url("store.login", slug=partner.slug),
            expires_at=consumer.temporary_password_expires_at,
        )
        queue_email(session, email_message, partner_id=partner.id, consumer_id=consumer.id)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="consumer.resend_welcome",
            subject_type="consumer",
            subject_id=row_id(consumer),
            summary=f"New temporary password sent to {consumer.email}",
        )
    return consumer


# --- the portal: the list and a team member's changes --------------------------------------


@dataclass(frozen=True)
class ConsumerList(CursorPage[Consumer]):
    """One page of a partner's consumers, newest first, with each one's general balance per currency."""

    balances: dict[int, list[Money]] = field(default_factory=dict)  # by consumer id


def consumer_list(
    session: Session,
    *,
    partner: Partner,
    query: str = "",
    active: bool | None = None,
    position: Position = FIRST_PAGE,
    size: int = 25,
) -> ConsumerList:
    """The consumers whose name or email contains `query` in any case (a typed % or _ is a character), or the one
    whose address it is (a whole address), active or not, newest first from `position`. On PostgreSQL trigram
    indexes on names and emails (migration 0020) find them among a partner's 100,000 without reading every row;
    elsewhere the same query reads the partner's."""
    conditions = [col(Consumer.partner_id) == partner.id]
    needle = query.lower()  # emails are stored in lower case
    if query and is_an_address_of(session, partner_id=row_id(partner), text=needle):
        conditions.append(col(Consumer.email) == needle)  # a whole address: its consumer alone
    elif query:
        conditions.append(
            or_(
                col(Consumer.full_name).icontains(query, autoescape=True),  # PostgreSQL: ILIKE, which the index serves
                col(Consumer.email).contains(needle, autoescape=True),
            )
        )
    if active is not None:
        conditions.append(col(Consumer.is_active) == active)
    found = list_pages.newest_first(
        session,
        select(Consumer).where(*conditions),
        key=col(Consumer.id),
        key_of=row_id,
        counted=select(Consumer.id).where(*conditions),
        position=position,
        size=size,
    )
    page = {part.name: getattr(found, part.name) for part in fields(found)}
    return ConsumerList(**page, balances=_general_balances(session, list(found.rows)))


def _general_balances(session: Session, consumers: list[Consumer]) -> dict[int, list[Money]]:
    if not consumers:
        return {}
    accounts = session.exec(
        select(Account)
        .where(col(Account.consumer_id).in_([c.id for c in consumers]), Account.kind == AccountKind.GENERAL.value)
        .order_by(Account.currency)
    ).all()
    balances: dict[int, list[Money]] = {}
    for account in accounts:
        balances.setdefault(cast(int, account.consumer_id), []).append(
            Money(account.balance, account.currency)
        )  # a wallet: has a consumer
    return balances


def add_consumer(
    session: Session, *, partner: Partner, email: str, full_name: str, currency: str, initial_funds: str, by: TeamMember
) -> NewConsumer:
    """A team member creates a consumer (or a wallet in a new currency for one) with initial funds as typed
    ("120.50"), funded from the partner's funds and audited, in one transaction. Refusals say why in the
    team's words: the email already has a wallet in that currency, or the partner funds are too low (and
    how much is left)."""
    _check_new_consumer_form(partner, email=email, full_name=full_name, currency=currency, initial_funds=initial_funds)
    try:
        currency = normalize_currency(currency)
        amount = Money.parse(initial_funds or "0", currency, field="initial funds")
        if amount.amount < 0:
            raise InvalidInput("Initial funds can't be negative.", field="initial_funds")
        with write_transaction(session):
            created = create_consumer(
                session, partner=partner, email=email, full_name=full_name, initial_funds=amount, actor=audit.actor_label(by)
            )
            consumer = created.consumer
            audit.record(
                session,
                partner_id=row_id(partner),
                member=by,
                action="consumer.create" if created.created else "consumer.add_wallet",
                subject_type="consumer",
                subject_id=row_id(consumer),
                summary=f"{consumer.email}: {currency} wallet with {amount}",
                details={"email": consumer.email, "currency": currency, "initial_funds": amount.amount},
            )
    except DuplicateConsumer:
        raise DuplicateConsumer(f"A consumer with this email already has a {currency} wallet.", field="email") from None
    except PartnerFundsTooLow:
        available = partners.partner_funds(session, partner, currency)
        raise PartnerFundsTooLow(
            f"Your partner funds are too low for these initial funds: {format_money(available)} available. Nothing was created.",
            field="initial_funds",
        ) from None
    except DomainError as error:
        raise type(error)(sentence(error.message), field=error.field) from None
    return created


def _check_new_consumer_form(partner: Partner, *, email: str, full_name: str, currency: str, initial_funds: str) -> None:
    """Every field of the portal's "Add a consumer" form checked on its own: all that is wrong is said at once
    (InvalidFields), not one problem per try. What needs the database (a wallet already there, partner funds)
    is checked afterwards, once the form is right."""
    problems: dict[str, str] = {}

    def check(field: str, rule) -> object:
        try:
            return rule()
        except DomainError as error:
            problems[field] = sentence(error.message)
            return None

    check("full_name", lambda: clean_name(full_name, field="full_name"))
    check("email", lambda: normalize_email(email))
    code = check("currency", lambda: normalize_currency(currency))
    if isinstance(code, str) and code not in partner.currency_list:
        problems["currency"] = f"Currency {code} is not enabled for this partner."
    amount = check(
        "initial_funds",
        lambda: Money.parse(initial_funds or "0", code if isinstance(code, str) else "USD", field="initial funds"),
    )
    if isinstance(amount, Money) and amount.amount < 0:
        problems["initial_funds"] = "Initial funds can't be negative."
    if problems:
        raise InvalidFields(problems)


def change_consumer_status(session: Session, *, partner: Partner, consumer: Consumer, active: bool, by: TeamMember) -> bool:
    """A team member deactivates or reactivates a consumer, audited; False (nothing recorded) when it already was so."""
    with write_transaction(session):
        session.refresh(consumer)
        if consumer.is_active == active:
            return False
        set_active(session, consumer=consumer, active=active)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="consumer.reactivate" if active else "consumer.deactivate",
            subject_type="consumer",
            subject_id=row_id(consumer),
            summary=consumer.email,
        )
    return True


@dataclass(frozen=True)
class StatementLine:
    """One movement of one of the consumer's balances, with that balance after it, and all their balances
    in its currency after it (general, bonus and campaign together: what the store's statement shows)."""

    transaction: Transaction
    wallet: str  # general | bonus | campaign
    amount: Money
    balance_after: Money
    order_public_id: str | None
    total_after: Money
    description: str = ""  # the line in plain words: "Gift card for Jordan Friend (Harvest Lane Grocers)", "Cash back"


@dataclass(frozen=True)
class LatestStatement:
    """The newest lines of a consumer's statement, newest first, and how many lines it has in all."""

    lines: list[StatementLine]
    total: int


def statement(session: Session, consumer: Consumer) -> list[StatementLine]:
    """Every movement of the consumer's balances, oldest first."""
    return list(reversed(_statement_lines(session, consumer)[0]))


def latest_statement(session: Session, consumer: Consumer, *, lines: int) -> LatestStatement:
    """The consumer's `lines` newest movements, newest first (a page shows these; the CSV has them all)."""
    return LatestStatement(*_statement_lines(session, consumer, limit=lines))


def _statement_lines(session: Session, consumer: Consumer, *, limit: int | None = None) -> tuple[list[StatementLine], int]:
    """The consumer's movements newest first (the `limit` newest), and how many there are in all.

    The balances after each line are running sums the database computes over all the consumer's entries, per
    balance and per currency, in one statement: they always agree with the lines (one snapshot), and only the
    lines shown are read into objects. The entries come through their accounts (account.consumer_id, then
    entry (account_id, id)): a consumer's statement costs the same in a ledger of millions.
    """
    in_order = (col(Entry.transaction_id), col(Entry.id))
    entries = (
        select(  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most 4 columns
            col(Entry.id).label("entry_id"),
            col(Entry.transaction_id).label("transaction_id"),
            col(Entry.amount).label("amount"),
            col(Account.kind).label("kind"),
            col(Account.currency).label("currency"),
            func.sum(Entry.amount).over(partition_by=col(Entry.account_id), order_by=in_order, rows=(None, 0)).label("balance"),
            func.sum(Entry.amount).over(partition_by=col(Account.currency), order_by=in_order, rows=(None, 0)).label("total"),
            func.count().over().label("lines"),
        )
        .join(Account, col(Account.id) == Entry.account_id)
        .where(Account.consumer_id == consumer.id)
        .subquery()
    )
    lines = session.exec(
        select(
            Transaction, entries.c.amount, entries.c.kind, entries.c.currency, entries.c.balance, entries.c.total, entries.c.lines
        )  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most 4 columns
        .join(entries, entries.c.transaction_id == Transaction.id)
        .order_by(entries.c.transaction_id.desc(), entries.c.entry_id.desc())
        .limit(limit)
    ).all()
    order_ids = {transaction.order_id for transaction, *_ in lines if transaction.order_id}
    gifts: dict[int, tuple[str, GiftFor]] = {}  # order id -> (public id, who got which card)
    if order_ids:
        for order_id, public_id, brand, name, email, to_self in session.exec(
            select(Order.id, Order.public_id, Brand.name, Order.recipient_name, Order.recipient_email, Order.to_self)  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most 4 columns
            .join(Brand, col(Brand.id) == Order.brand_id)
            .where(col(Order.id).in_(order_ids))
        ).all():
            gifts[order_id] = (public_id, GiftFor(brand, name, email, to_self))
    partner_id = referenced(session, Consumer, consumer.id).partner_id  # from the identity map when the consumer is loaded
    store = referenced(session, Partner, partner_id).display_name
    result = []
    for transaction, amount, kind, currency, balance, total, _ in lines:
        public_id, gift = gifts.get(transaction.order_id, (None, None))
        result.append(
            StatementLine(
                transaction,
                kind,
                Money(amount, currency),
                Money(int(balance), currency),  # PostgreSQL sums bigints as numeric
                public_id,
                total_after=Money(int(total), currency),
                description=describe(type=transaction.type, wallet=kind, store=store, gift=gift, memo=transaction.memo),
            )
        )
    return result, lines[0][-1] if lines else 0


class PlacedOrder(NamedTuple):
    """One of the consumer's orders as their history lists it."""

    order: Order
    brand: Brand
    card_value: Money
    price: Money


def order_history(session: Session, consumer: Consumer, *, limit: int = 200) -> list[PlacedOrder]:
    """The consumer's latest orders, newest first, each with its brand."""
    rows = session.exec(
        select(Order, Brand)
        .join(Brand, col(Brand.id) == Order.brand_id)
        .where(Order.consumer_id == consumer.id)
        .order_by(col(Order.id).desc())
        .limit(limit)
    ).all()
    return [
        PlacedOrder(order, brand, Money(order.card_value, order.currency), Money(order.price, order.currency))
        for order, brand in rows
    ]


# --- many at once (the portal's CSV bulk upload) ----------------------------------------------


@dataclass(frozen=True)
class BulkWallet:
    """A wallet to open for a consumer (created if new); email, name and amount already checked."""

    email: str
    full_name: str
    initial_funds: Money


@dataclass(frozen=True)
class BulkCreated:
    opened: set[tuple[str, str]]  # (email, currency) that got a new, funded wallet
    skipped: set[tuple[str, str]]  # (email, currency) that already had a wallet: left alone
    new_consumer_ids: list[int]  # created without a password: `send_bulk_welcomes` gives them one


def create_consumers_in_bulk(session: Session, *, partner: Partner, wallets: list[BulkWallet], actor: str = "") -> BulkCreated:
    """Many consumers (or wallets in a new currency) funded like `create_consumer`, in a few statements.

    A handful of statements per table for the whole list instead of a dozen per consumer, so
    thousands take seconds; the caller's write transaction holds it all. Each funded wallet
    still gets its own `Initial funds` credit from the partner's funds. Partner funds too low
    for a currency's total: PartnerFundsTooLow and nothing is created. New consumers get an
    empty password hash (no sign-in) until the queue gives them a temporary password and its
    welcome email, in batches (`send_bulk_welcomes`).
    """
    with write_transaction(session):
        partners.hold_partner(session, row_id(partner))  # a single create of one of these emails waits, or is seen
        consumer_ids = _consumer_ids(session, partner, {wallet.email for wallet in wallets})
        held = _held_accounts(session, list(consumer_ids.values()))
        names: dict[str, str] = {}
        for wallet in wallets:
            if wallet.email not in consumer_ids:
                names.setdefault(wallet.email, wallet.full_name)
        if names:
            session.execute(
                insert(table_of(Consumer)),
                [
                    dict(partner_id=partner.id, email=email, full_name=name, password_hash="", created_at=utcnow())
                    for email, name in names.items()
                ],
            )
        new_ids = _consumer_ids(session, partner, set(names))
        consumer_ids.update(new_ids)

        to_open, skipped = [], set()
        for wallet in wallets:
            currency = wallet.initial_funds.currency
            if currency not in partner.currency_list:
                raise InvalidInput(f"currency {currency} is not enabled for this partner.", field="currency")
            consumer_id = consumer_ids[wallet.email]
            general = ledger.account_key(AccountKind.GENERAL, currency, partner_id=row_id(partner), consumer_id=consumer_id)
            if general in held:
                skipped.add((wallet.email, currency))
                continue
            held.add(general)
            to_open.append((consumer_id, wallet))
        _charge_partner_funds(session, partner, [wallet.initial_funds for _, wallet in to_open])
        funded_wallets = _open_wallets(session, partner, to_open, held)
        _credit_initial_funds(session, funded_wallets, actor=actor)
    return BulkCreated(
        opened={(wallet.email, wallet.initial_funds.currency) for _, wallet in to_open},
        skipped=skipped,
        new_consumer_ids=sorted(new_ids.values()),
    )


def _consumer_ids(session: Session, partner: Partner, emails: set[str]) -> dict[str, int]:
    if not emails:
        return {}
    ids = session.exec(
        select(Consumer.email, Consumer.id).where(Consumer.partner_id == partner.id, col(Consumer.email).in_(emails))
    ).all()
    return dict(cast(Sequence[tuple[str, int]], ids))  # ids of rows: never None


def _held_accounts(session: Session, consumer_ids: list[int]) -> set[str]:
    if not consumer_ids:
        return set()
    return set(session.exec(select(Account.key).where(col(Account.consumer_id).in_(consumer_ids))).all())


def _charge_partner_funds(session: Session, partner: Partner, amounts: list[Money]) -> None:
    """Take each currency's total out of the partner's funds at once, never below zero."""
    totals: dict[str, int] = {}
    for amount in amounts:
        totals[amount.currency] = totals.get(amount.currency, 0) + amount.amount
    for currency, total in sorted(totals.items()):
        funds = ledger.open_account(session, AccountKind.PARTNER_FUNDS, currency, partner_id=row_id(partner))
        if (
            total
            and cast(
                CursorResult,
                session.execute(
                    update(Account)
                    .where(col(Account.id) == funds.id, col(Account.balance) >= total)
                    .values(balance=Account.balance - total)
                    .execution_options(synchronize_session=False)
                ),
            ).rowcount
            != 1
        ):
            raise PartnerFundsTooLow(PARTNER_FUNDS_TOO_LOW, field="initialFunds")


def _open_wallets(session: Session, partner: Partner, to_open: list[tuple[int, BulkWallet]], held: set[str]) -> list[int]:
    """General and bonus accounts, the general one opened with its initial funds; the ids of those with funds."""
    accounts, funded_keys = [], []
    for consumer_id, wallet in to_open:
        currency, amount = wallet.initial_funds.currency, wallet.initial_funds.amount
        for kind, balance in ((AccountKind.GENERAL, amount), (AccountKind.BONUS, 0)):
            key = ledger.account_key(kind, currency, partner_id=row_id(partner), consumer_id=consumer_id)
            if kind is AccountKind.BONUS and key in held:
                continue
            accounts.append(
                dict(
                    key=key,
                    partner_id=partner.id,
                    consumer_id=consumer_id,
                    kind=kind.value,
                    currency=currency,
                    balance=balance,
                    created_at=utcnow(),
                )
            )
            if balance > 0:
                funded_keys.append(key)
    if accounts:
        # A plain executemany and a lookup by key: RETURNING over thousands of rows is several times slower on psycopg.
        session.execute(insert(table_of(Account)), accounts)
    return (
        list(cast(Sequence[int], session.exec(select(Account.id).where(col(Account.key).in_(funded_keys))).all()))
        if funded_keys
        else []
    )


def _credit_initial_funds(session: Session, general_ids: list[int], *, actor: str) -> None:
    """Per funded general account, a credit transaction whose entries match the balances moved:
    its opening balance into it, out of the partner's funds (already charged in one update)."""
    if not general_ids:
        return
    wallet = table_of(Account)
    credits = (
        session.execute(
            insert(table_of(Transaction))
            .from_select(
                ["partner_id", "consumer_id", "type", "status", "currency", "amount", "memo", "actor", "created_at"],
                select(  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most 4 columns
                    wallet.c.partner_id,
                    wallet.c.consumer_id,
                    literal(TransactionType.CREDIT.value),
                    literal(TransactionStatus.COMPLETED.value),
                    wallet.c.currency,
                    wallet.c.balance,
                    literal("Initial funds"),
                    literal(actor[:120]),
                    literal(utcnow(), table_of(Transaction).c.created_at.type),
                ).where(wallet.c.id.in_(general_ids)),
            )
            .returning(table_of(Transaction).c.id)
        )
        .scalars()
        .all()
    )
    credit = table_of(Transaction)
    funds = table_of(Account).alias("funds")
    into_wallets = select(credit.c.id, wallet.c.id, credit.c.amount).join(
        wallet,
        and_(
            wallet.c.consumer_id == credit.c.consumer_id,
            wallet.c.currency == credit.c.currency,
            wallet.c.kind == AccountKind.GENERAL.value,
        ),
    )
    out_of_funds = select(credit.c.id, funds.c.id, -credit.c.amount).join(
        funds,
        and_(
            funds.c.partner_id == credit.c.partner_id,
            funds.c.consumer_id.is_(None),
            funds.c.currency == credit.c.currency,
            funds.c.kind == AccountKind.PARTNER_FUNDS.value,
        ),
    )
    for legs in (into_wallets, out_of_funds):
        session.execute(
            insert(table_of(Entry)).from_select(["transaction_id", "account_id", "amount"], legs.where(credit.c.id.in_(credits)))
        )


def deactivate_in_bulk(session: Session, *, partner: Partner, emails: list[str]) -> set[str]:
    """Deactivate the partner's active consumers with these emails; the emails that were deactivated."""
    if not emails:
        return set()
    with write_transaction(session):
        return set(
            session.execute(
                update(Consumer)
                .where(col(Consumer.partner_id) == partner.id, col(Consumer.email).in_(emails), col(Consumer.is_active).is_(True))
                .values(is_active=False)
                .returning(col(Consumer.email))
                .execution_options(synchronize_session=False)
            )
            .scalars()
            .all()
        )


def send_bulk_welcomes(session: Session, *, consumer_ids: Sequence[int]) -> int:
    """Give consumers created in bulk (no password yet) a temporary password each and email it; once. How many.

    One write transaction for them all: the consumers still without a password are locked and read in one
    statement, their hashes written in one, their welcome emails recorded in one (each delivered by its own
    task once this commits). A consumer who already has a password (a retried task, a sweep or another worker
    that got there first) is left alone, so nobody gets a second one. The temporary password gets a keyed fast
    hash (app/security.py), not Argon2: 10,000 of them cost milliseconds, not worker-minutes.
    """
    if not consumer_ids:
        return 0
    expires_at = utcnow() + timedelta(days=current_app.config["TEMP_PASSWORD_DAYS"])
    with write_transaction(session):
        waiting = session.exec(
            select(Consumer)
            .where(col(Consumer.id).in_(consumer_ids), Consumer.password_hash == "")
            .order_by(col(Consumer.id))
            .with_for_update()
        ).all()
        if not waiting:
            return 0
        hashes: list[dict] = []
        by_partner: dict[int, list[tuple[Email, int | None]]] = {}
        for partner_id in {consumer.partner_id for consumer in waiting}:
            partner = referenced(session, Partner, partner_id)
            look = published_look(partner, absolute=True)  # once for all its consumers, not per email
            login_url = external_url("store.login", slug=partner.slug)
            welcomes = by_partner.setdefault(partner_id, [])
            for consumer in (consumer for consumer in waiting if consumer.partner_id == partner_id):
                temporary_password = new_temporary_password()
                hashes.append(dict(consumer_id=consumer.id, new_hash=hash_temporary_password(temporary_password)))
                email = build_welcome_email(
                    partner=partner,
                    consumer=consumer,
                    temporary_password=temporary_password,
                    login_url=login_url,
                    expires_at=expires_at,
                    look=look,
                )
                welcomes.append((email, consumer.id))
        session.execute(
            update(table_of(Consumer))
            .where(table_of(Consumer).c.id == bindparam("consumer_id"), table_of(Consumer).c.password_hash == "")
            .values(password_hash=bindparam("new_hash"), temporary_password_expires_at=expires_at, must_change_password=True),
            hashes,
        )
        for partner_id, welcomes in by_partner.items():
            queue_emails(session, welcomes, partner_id=partner_id)
    return len(waiting)
