"""Posting money: balanced transactions, cached balances updated with a guard against going negative."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from app.db import write_transaction
from app.domain.errors import InsufficientFunds, UnbalancedTransaction
from app.domain.ledger import AccountKind, Posting, TransactionStatus, TransactionType, check_balanced
from app.domain.money import Money
from app.models import Account, Entry, Transaction
from app.services.rows import row_id, table_of

CARD_PURCHASE_SLOTS = 16
"""How many card_purchases accounts a partner has per currency. Every checkout credits one of them, and on
PostgreSQL that row stays locked until the checkout commits: with a single account, all of a partner's checkouts
would queue behind each other. A consumer always uses the same slot (`card_purchases_slot`), so concurrent
shoppers of one partner mostly move different rows. Changing the number is safe: a rebate or refund moves the
account its order's debit credited, whatever the slots are now."""


def card_purchases_slot(consumer_id: int) -> int:
    """Which of the partner's card_purchases accounts this consumer's checkouts credit."""
    return consumer_id % CARD_PURCHASE_SLOTS


def account_key(
    kind: AccountKind,
    currency: str,
    *,
    partner_id: int,
    consumer_id: int | None = None,
    campaign_id: int | None = None,
    slot: int = 0,
) -> str:
    """`consumer:7:general:USD`; a campaign's accounts name their campaign: `consumer:7:campaign:3:USD`
    (a member's campaign wallet), `partner:2:campaign_budget:3:USD` (its budget); a card_purchases slot other
    than 0 names its slot: `partner:2:card_purchases:slot5:USD` (slot 0 keeps the key from before the split)."""
    owner = f"consumer:{consumer_id}" if consumer_id is not None else f"partner:{partner_id}"
    scope = f"{kind.value}:{campaign_id}" if campaign_id is not None else kind.value
    if slot:
        scope = f"{scope}:slot{slot}"
    return f"{owner}:{scope}:{currency}"


def find_account(
    session: Session,
    kind: AccountKind,
    currency: str,
    *,
    partner_id: int,
    consumer_id: int | None = None,
    campaign_id: int | None = None,
    slot: int = 0,
) -> Account | None:
    key = account_key(kind, currency, partner_id=partner_id, consumer_id=consumer_id, campaign_id=campaign_id, slot=slot)
    return session.exec(select(Account).where(Account.key == key)).first()


def open_account(
    session: Session,
    kind: AccountKind,
    currency: str,
    *,
    partner_id: int,
    consumer_id: int | None = None,
    campaign_id: int | None = None,
    slot: int = 0,
) -> Account:
    """The account of that owner, kind and currency (and campaign, or slot), opened if it does not exist yet."""
    key = account_key(kind, currency, partner_id=partner_id, consumer_id=consumer_id, campaign_id=campaign_id, slot=slot)
    existing = session.exec(select(Account).where(Account.key == key)).first()
    if existing is not None:
        return existing
    account = Account(
        key=key,
        partner_id=partner_id,
        consumer_id=consumer_id,
        kind=kind.value,
        currency=currency,
        campaign_id=campaign_id,
        balance=0,
    )
    with write_transaction(session):  # the caller's, when it has one
        try:
            with session.begin_nested():
                session.add(account)
        except IntegrityError:  # opened concurrently by someone else
            opened = session.exec(select(Account).where(Account.key == key)).first()
            assert opened is not None  # the insert that won is committed (that is what made ours fail)
            return opened
    return account


def card_purchases_account(session: Session, currency: str, *, partner_id: int, consumer_id: int) -> Account:
    """The card_purchases account this consumer's checkouts credit (their slot's; opened if it does not exist yet)."""
    slot = card_purchases_slot(consumer_id)
    return open_account(session, AccountKind.CARD_PURCHASES, currency, partner_id=partner_id, slot=slot)


def card_purchases_total(session: Session, currency: str, *, partner_id: int) -> Money:
    """What the partner's consumers spent on gift cards, net of rebates and refunds: its card_purchases accounts
    (every slot) added up."""
    total = session.exec(
        select(func.coalesce(func.sum(Account.balance), 0)).where(
            Account.partner_id == partner_id, Account.kind == AccountKind.CARD_PURCHASES.value, Account.currency == currency
        )
    ).one()
    return Money(int(total), currency)


def post_transaction(session: Session, **transaction) -> Transaction:
    """Record a balanced transaction (`record_transaction`'s arguments) and move the balances, all inside
    the caller's transaction.

    Raises InsufficientFunds (naming the account kind in `field`) when an account that may
    not go negative would; the caller's transaction then rolls back whole.
    """
    recorded = record_transaction(session, **transaction)
    move_balances(session, recorded)
    return recorded.transaction


@dataclass(frozen=True)
class Recorded:
    """A transaction and its entries, written; its balances not moved yet (`move_balances`)."""

    transaction: Transaction
    moves: list[tuple[Account, int]]  # in the order the rows are locked


def record_transaction(
    session: Session,
    *,
    partner_id: int,
    type: TransactionType,
    currency: str,
    postings: list[Posting],
    memo: str = "",
    actor: str = "",
    status: TransactionStatus = TransactionStatus.COMPLETED,
    consumer_id: int | None = None,
    order_id: int | None = None,
    campaign_id: int | None = None,
    idempotency_key: str | None = None,
) -> Recorded:
    """The first half of `post_transaction`: check the postings, write the transaction and its entries.
    The caller must `move_balances` in the same database transaction (a checkout writes its order in between)."""
    check_balanced(postings)
    ids = {p.account_id for p in postings}
    # Accounts the caller already holds (a checkout has just locked them) need no query: only their
    # currency and owner are read here, which never change, and balances move in SQL below.
    accounts = {i: found for i in ids if (found := session.identity_map.get(identity_key(Account, i))) is not None}
    missing = ids - set(accounts)
    if missing:
        accounts |= {row_id(a): a for a in session.exec(select(Account).where(col(Account.id).in_(missing)))}
    if set(accounts) != ids:
        raise UnbalancedTransaction("a posting names an account that does not exist")
    for account in accounts.values():
        if account.currency != currency:
            raise UnbalancedTransaction("currencies do not mix within a transaction")
        if account.partner_id != partner_id:
            raise UnbalancedTransaction("a transaction stays within one partner")

    transaction = Transaction(
        partner_id=partner_id,
        consumer_id=consumer_id,
        order_id=order_id,
        campaign_id=campaign_id,
        type=type.value,
        status=status.value,
        currency=currency,
        amount=sum(p.amount for p in postings if p.amount > 0),
        memo=memo[:500],
        actor=actor[:120],
        idempotency_key=idempotency_key,
    )
    session.add(transaction)
    session.flush()
    # A fixed order of row updates keeps concurrent transfers from deadlocking on PostgreSQL: consumers'
    # wallets first (a checkout has locked them already), then the partner's accounts, which every
    # order of the partner moves, so their row locks are held for as short a time as possible.
    ordered = sorted(postings, key=lambda p: (not AccountKind(accounts[p.account_id].kind).is_consumer_wallet, p.account_id))
    # The entries before any balance moves (one statement; nothing reads them back as objects here): the
    # partner's row lock, taken by the last move, is then held only until the caller commits.
    session.execute(
        insert(Entry), [{"transaction_id": transaction.id, "account_id": p.account_id, "amount": p.amount} for p in ordered]
    )
    return Recorded(transaction, [(accounts[p.account_id], p.amount) for p in ordered])


def move_balances(session: Session, recorded: Recorded) -> None:
    """The second half of `post_transaction`: move the recorded transaction's balances, in lock order."""
    for account, amount in recorded.moves:
        _move_balance(session, account, amount)
    # The balances moved in SQL: a loaded account reads its balance again when it is next asked for.
    for account, _amount in recorded.moves:
        session.expire(account, ["balance"])


# Built once, run on the session's connection as plain SQL (the ORM's bulk-update path costs more than the
# statement): the balance moves in the database, guarded so that it can't go below zero.
_ACCOUNTS = table_of(Account)
_MOVE = (
    _ACCOUNTS.update().where(_ACCOUNTS.c.id == bindparam("account_id")).values(balance=_ACCOUNTS.c.balance + bindparam("amount"))
)
_MOVE_GUARDED = _MOVE.where(_ACCOUNTS.c.balance >= -bindparam("amount"))


def _move_balance(session: Session, account: Account, amount: int) -> None:
    guarded = amount < 0 and not AccountKind(account.kind).may_go_negative
    result = session.connection().execute(_MOVE_GUARDED if guarded else _MOVE, {"account_id": account.id, "amount": amount})
    if result.rowcount != 1:
        raise InsufficientFunds("Not enough balance for this transaction", field=account.kind)


def balance(account: Account | None, currency: str) -> Money:
    return Money(account.balance if account else 0, currency)


def ledger_problems(session: Session) -> list[str]:
    """Every way the ledger could be wrong; empty when it is right. Used by tests and checks."""
    problems = []
    unbalanced = session.exec(
        select(Entry.transaction_id, func.sum(Entry.amount))
        .group_by(col(Entry.transaction_id))
        .having(func.sum(Entry.amount) != 0)
    ).all()
    problems += [f"transaction {tid} sums to {total}" for tid, total in unbalanced]
    sums: dict[int | None, int] = dict(
        session.exec(select(Entry.account_id, func.sum(Entry.amount)).group_by(col(Entry.account_id))).all()
    )
    # Columns, not ORM objects: the identity map could hold a stale balance.
    for account_id, key, kind, cached in session.exec(select(Account.id, Account.key, Account.kind, Account.balance)).all():
        if cached != (sums.get(account_id) or 0):
            problems.append(f"account {key} caches {cached}, entries say {sums.get(account_id) or 0}")
        if cached < 0 and not AccountKind(kind).may_go_negative:
            problems.append(f"account {key} is negative: {cached}")
    return problems
